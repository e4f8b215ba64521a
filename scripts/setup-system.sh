#!/usr/bin/env bash
# System packages tracestream needs on Debian/Ubuntu:
# - the -dev libraries that @confluentinc/kafka-javascript links librdkafka against
#   (its prebuilt binary and its static build both download from the internet);
# - a Python 3 that an unprivileged sandbox user can execute, with numpy (HackerRank offers it);
# - util-linux for `unshare -n` (no network for traced programs);
# - chromium, the browser the live page's tests drive (playwright-core, /usr/bin/chromium).
set -euo pipefail
packages=(build-essential python3 python3-numpy util-linux chromium
  libcurl4-openssl-dev libsasl2-dev libzstd-dev liblz4-dev libssl-dev zlib1g-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
