# syntax=docker/dockerfile:1
# The tracestream image every topology, serve and tail run from (not the GPU trainer: trainer.Dockerfile).
# Build from the repository root:  docker build -f deploy/docker/topology.Dockerfile -t tracestream .
# Written without a Docker engine at hand (none where it was written): kept correct by reading it,
# and by using the same scripts/setup-system.sh and `npm ci` the README's install uses.

# --- build: compilers and -dev libraries, all dependencies, the TypeScript build -------------------
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY scripts/setup-system.sh scripts/setup-system.sh
RUN ./scripts/setup-system.sh && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# hyparquet-writer is patched at install (patches/, README "Dependencies").
COPY patches patches
# Links @confluentinc/kafka-javascript's librdkafka against Debian's libraries (README, Install).
RUN CKJS_LINKING=dynamic npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts scripts
COPY schemas schemas
COPY src src
COPY topologies topologies
RUN npx tsc -p . && node scripts/copy-python.mjs \
  # Only what running needs goes on: dev dependencies are pruned (the native addon stays built).
  && npm prune --omit=dev --no-audit --no-fund

# --- runtime: Node, Python for the programs, the shared libraries; no compiler, no -dev packages ---
FROM node:20-bookworm-slim
WORKDIR /app
COPY scripts/setup-system.sh scripts/
RUN scripts/setup-system.sh --runtime && rm -rf /var/lib/apt/lists/* scripts \
  # No setuid binaries: a program that escaped its box could not gain privileges through one.
  && find / -xdev -perm /6000 -type f -exec chmod a-s {} + \
  && groupadd --gid 10001 tracestream && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp tracestream
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/schemas schemas
ENV NODE_ENV=production \
    TRACESTREAM_PYTHON=/usr/bin/python3 \
    TRACESTREAM_TELEMETRY_PORT=9464
# Non-root by default. The trace topology's pods run it as root inside a pod user namespace,
# because the executor sandbox builds namespaces (deploy/kustomize/base/trace-topology.yaml says why).
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["topology", "trace"]
