# syntax=docker/dockerfile:1
# The GPU trainer (`tracestream train`, the model consumer). @tensorflow/tfjs-node-gpu binds
# TensorFlow 2.9, built for CUDA 11.2 and cuDNN 8.1: the base image pins exactly those
# (cuDNN 8.1.1 ships in NVIDIA's 11.2.2-cudnn8 images). The node needs an NVIDIA driver >= 460.
# Build from the repository root:  docker build -f deploy/docker/trainer.Dockerfile -t tracestream-trainer .
# Written without a Docker engine at hand: kept correct by reading it.
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04

# Node 20's official Linux build needs glibc >= 2.28; Ubuntu 20.04 has 2.31. Taken from the
# official image rather than a third-party apt repository.
FROM node:20-bullseye-slim AS node

# --- build: on the same Ubuntu as the runtime, so the native addons link against its libraries -----
FROM ${CUDA_IMAGE} AS build
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
WORKDIR /src
COPY scripts/setup-system.sh scripts/setup-system.sh
RUN ./scripts/setup-system.sh && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# hyparquet-writer is patched at install (patches/, README "Dependencies").
COPY patches patches
# npm ci installs the optional @tensorflow/tfjs-node-gpu here (it downloads libtensorflow-gpu 2.9
# at install, so the build needs the internet); the check fails the build if it did not.
RUN CKJS_LINKING=dynamic npm ci --no-audit --no-fund \
  && node -e "require.resolve('@tensorflow/tfjs-node-gpu')"
COPY tsconfig.json ./
COPY scripts scripts
COPY schemas schemas
COPY src src
COPY topologies topologies
RUN npx tsc -p . && node scripts/copy-python.mjs && npm prune --omit=dev --no-audit --no-fund

# --- runtime: CUDA + cuDNN runtime libraries, Node, the runtime packages -----------------------
FROM ${CUDA_IMAGE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY scripts/setup-system.sh scripts/
RUN scripts/setup-system.sh --runtime && rm -rf /var/lib/apt/lists/* scripts \
  && groupadd --gid 10001 tracestream && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp tracestream
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/schemas schemas
ENV NODE_ENV=production \
    TRACESTREAM_TELEMETRY_PORT=9464
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["train", "--checkpoint", "/checkpoints/model", "--backend", "tensorflow-gpu"]
