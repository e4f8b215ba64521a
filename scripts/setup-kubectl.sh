#!/usr/bin/env bash
# kubectl (with its built-in kustomize) for rendering and checking deploy/kustomize in CI; no
# cluster is needed. Installed the way the project's machines have it: the `kubectl` Debian package
# from Google's Cloud SDK apt repository. Fails with a message that says what to do when it cannot.
set -euo pipefail
need_minor=27 # kustomize v5 (built into kubectl 1.27+) understands the overlays' patch targets

usable() {
  command -v kubectl >/dev/null 2>&1 || return 1
  local minor
  minor=$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -1)
  [ -n "$minor" ] && [ "$minor" -ge "$need_minor" ] && kubectl kustomize --help >/dev/null 2>&1
}

if usable; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  keyring=/usr/share/keyrings/cloud.google.gpg
  if curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | $sudo gpg --batch --yes --dearmor -o "$keyring" \
    && echo "deb [signed-by=$keyring] https://packages.cloud.google.com/apt cloud-sdk main" | $sudo tee /etc/apt/sources.list.d/google-cloud-sdk.list >/dev/null \
    && $sudo apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends kubectl; then
    usable && exit 0
  fi
fi
echo "setup-kubectl: no usable kubectl (1.$need_minor or later, with 'kubectl kustomize') and it could not be installed." >&2
echo "  The deploy tests render deploy/kustomize with it. Install the kubectl package (https://kubernetes.io/docs/tasks/tools/)" >&2
echo "  and run .ci/run again." >&2
exit 1
