# snapkeeper worker and API: one image, two commands (docker-compose.temporal.yml runs both).
#   worker (default):  node dist/src/worker/main.js
#   API:               node dist/src/api/main.js
#
# On a machine with a registry:  docker build -t snapkeeper:local .
# Without one (the build machines here): scripts/build-image.sh, which makes a Node base image
# from the machine's own runtime and hands the build a node_modules installed outside it; see
# docs/deployment.md.

# Any image with node 20, npm and a POSIX shell; scripts/make-node-base-image.sh makes one locally.
ARG NODE_IMAGE=node:20-slim

# ---- build: every dependency, compile, bundle the workflow code, then drop the dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first, so a source change does not reinstall the dependencies.
COPY package.json package-lock.json ./
COPY packages/client/package.json packages/client/
# A build without network (a builder with no route out, as on the build machines here) cannot run
# npm ci. scripts/build-image.sh then puts a node_modules that `npm ci` made outside the build, on
# the same platform, into the context as prepared/node_modules (a checkout's .dockerignore keeps
# its own node_modules out). The pattern matches nothing in a plain checkout: then npm ci runs.
COPY package.json prepare[d] ./
RUN if [ -d node_modules ]; then echo "using the node_modules prepared outside the build"; \
    else npm ci --include=dev --no-audit --no-fund; fi
COPY tsconfig.json tsconfig.build.json ./
COPY packages/client packages/client
COPY scripts/build-workflow-bundle.ts scripts/
COPY scripts/lib/repo-root.ts scripts/lib/
COPY scripts/prune-core-bridge.mjs scripts/
COPY src src
# npm run build: the client workspace, then tsc into dist/src and the workflow bundle into
# dist/workflow-bundle.js (workers load it instead of running webpack at every start). Then the
# production dependencies only, and of Temporal's native core bridge only this platform's binary.
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund \
  && node scripts/prune-core-bridge.mjs /app

# ---- runtime: node on the build, production dependencies only, not root.
FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
# The service imports the client workspace (@snapkeeper/client); node_modules links to it here.
COPY --from=build /app/packages/client/package.json packages/client/
COPY --from=build /app/packages/client/dist packages/client/dist
COPY --from=build /app/dist dist
# Files stay root's and read-only to the process. The worker needs the Docker socket: give the
# container the socket's group (docker run --group-add GID) rather than root where you can.
USER node
# The process itself is PID 1 (exec form, no npm or shell in between), so `docker stop` delivers
# SIGTERM straight to it, and the worker drains its tasks before exiting.
CMD ["node", "dist/src/worker/main.js"]
