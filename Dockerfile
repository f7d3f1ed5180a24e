# syntax=docker/dockerfile:1
# One image per service, built from this one file:
#   docker build --build-arg SERVICE=payment -t payment-saga/payment .
# SERVICE picks the default command (payment | processing | gateway); compose may override it.
ARG NODE_VERSION=24

# The package manifests alone, so that each stage's dependency layer is reused until the lock
# file changes. npm ci needs every workspace listed in the lock file: a new workspace needs its
# line here.
FROM node:${NODE_VERSION}-bookworm-slim AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY libs/contracts/package.json libs/contracts/
COPY libs/catalog/package.json libs/catalog/
COPY libs/common/package.json libs/common/
COPY libs/testing/package.json libs/testing/
COPY services/payment/package.json services/payment/
COPY services/processing/package.json services/processing/
COPY services/gateway/package.json services/gateway/

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY --from=manifests /app ./
# Install scripts are skipped: `prepare` (code generation) needs the protos, copied below, and
# no other package needs its script for this build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json buf.yaml buf.gen.yaml ./
COPY proto proto
COPY libs libs
COPY services services
COPY scripts scripts
RUN npm run generate
# Libraries before services (the root build script's order): with "customConditions": [] each
# workspace compiles against the dist/*.d.ts of the ones it imports.
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# Heap limits keep V8 from growing the heap to several times the live data between full
# collections, and Node 24's young generation to Node 20's size (see SERVICE_HEAP_FLAGS in
# scripts/lib/childProcess.ts); override them here. Set after npm ci, which must not run
# under them.
ENV NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=16"
COPY --from=build /app/libs/contracts/dist libs/contracts/dist
COPY --from=build /app/libs/catalog/dist libs/catalog/dist
COPY --from=build /app/libs/common/dist libs/common/dist
COPY --from=build /app/services/payment/dist services/payment/dist
COPY --from=build /app/services/processing/dist services/processing/dist
COPY --from=build /app/services/gateway/dist services/gateway/dist
# Operator tools in every image: healthProbe.js (the health checks), ops.js (parked payments),
# checkInvariants.js (read-only money check), token.js (dev tokens).
COPY --from=build /app/scripts/dist scripts/dist
# Server reflection describes the services from the compiled schema.
COPY --from=build /app/libs/contracts/descriptors libs/contracts/descriptors
# Owned by the runtime user so that a volume mounted here starts out writable.
RUN mkdir -p /app/.data/dev-keys && chown -R node:node /app/.data
USER node
ARG SERVICE=payment
ENV SERVICE=${SERVICE}
# exec: node replaces the shell as PID 1, so it receives the SIGTERM of `docker stop` itself.
# --single-threaded-gc: garbage collection without helper threads, for containers given a
# core or two (see SERVICE_GC_FLAG in scripts/lib/childProcess.ts); Node refuses it in
# NODE_OPTIONS. On a machine with idle cores, the helpers shorten pauses instead: drop it.
CMD ["sh", "-c", "exec node --single-threaded-gc services/${SERVICE}/dist/main.js"]
