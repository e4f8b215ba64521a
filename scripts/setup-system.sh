#!/usr/bin/env bash
# System packages tracestream needs on Debian/Ubuntu. With --runtime, only what a built tracestream
# needs to run (the container images' final stage, deploy/docker); without it, also what building
# needs. Runtime:
# - the shared libraries librdkafka links against (libssl comes with libcurl4);
# - a Python 3 that an unprivileged sandbox user can execute, with numpy (HackerRank offers it),
#   and python3-seccomp for the sandbox's per-run seccomp filter;
# - util-linux for `unshare -n` (no network for traced programs); CA certificates for TLS to brokers.
# Build: the -dev libraries that @confluentinc/kafka-javascript links librdkafka against (its
# prebuilt binary and its static build both download from the internet), a compiler, and
# chromium, the browser the live page's tests drive (playwright-core, /usr/bin/chromium).
set -euo pipefail
runtime=(python3 python3-numpy python3-seccomp util-linux ca-certificates
  libcurl4 libsasl2-2 libzstd1 liblz4-1 zlib1g)
build=(build-essential chromium libcurl4-openssl-dev libsasl2-dev libzstd-dev liblz4-dev libssl-dev zlib1g-dev)
case "${1:-}" in
  --runtime) packages=("${runtime[@]}") ;;
  "") packages=("${runtime[@]}" "${build[@]}") ;;
  *) echo "usage: $0 [--runtime]" >&2; exit 2 ;;
esac
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
