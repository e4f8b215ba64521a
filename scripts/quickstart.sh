#!/usr/bin/env bash
# From a fresh clone on Debian/Ubuntu with Node.js 20+: system packages, the npm install, the build,
# then the main job over examples/ on the embedded broker (no Kafka needed); the dataset goes to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-system.sh
# Links librdkafka against Debian's zlib/OpenSSL/zstd/curl instead of downloading their sources.
CKJS_LINKING=dynamic npm ci
npm run build
node dist/src/cli/main.js trace examples/ --out out/
