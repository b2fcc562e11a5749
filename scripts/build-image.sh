#!/usr/bin/env bash
# Builds the snapkeeper image (Dockerfile) on an engine that cannot pull anything: no registry is
# reachable from the build machines, and a build has no network inside. So the Node base image is
# made from this machine's own runtime (scripts/make-node-base-image.sh), and the build stage gets
# the checkout's node_modules (from `npm ci`, same platform) as prepared/node_modules in a context
# streamed from here. Everything else happens inside the build, as on a machine with a registry:
# npm run build, npm prune --omit=dev, a runtime stage that runs node as a non-root user.
#
#   scripts/build-image.sh DOCKER_HOST_URI [TAG]      default TAG: snapkeeper:local
#
# Environment: NODE_IMAGE, a Node base image the engine already has (default: made as above).
# Prints the image ID last; the build time and the image's size on stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 DOCKER_HOST_URI [TAG]" >&2; exit 2; }
host="$1"
tag="${2:-snapkeeper:local}"
log() { echo "build-image: $*" >&2; }
dk() { docker -H "$host" "$@"; }

[ -d node_modules/@temporalio/worker ] || { log "no node_modules here: run npm ci first"; exit 1; }
node_image="${NODE_IMAGE:-snapkeeper-local/node:$(node --version | sed 's/^v//')}"
if [ -z "${NODE_IMAGE:-}" ]; then bash scripts/make-node-base-image.sh "$host" "$node_image" >/dev/null; fi

started=$(date +%s%N)
# The context: what the Dockerfile copies, and node_modules renamed prepared/node_modules (the S
# flag leaves symlink targets alone: node_modules/@snapkeeper/client points at ../../packages/client).
tar -c --anchored \
  --exclude='./packages/*/node_modules' --exclude='./packages/*/dist' \
  --transform='s,^\./node_modules,./prepared/node_modules,S' \
  ./Dockerfile ./.dockerignore ./package.json ./package-lock.json ./tsconfig.json ./tsconfig.build.json \
  ./packages ./scripts ./src ./node_modules |
  dk build --build-arg "NODE_IMAGE=$node_image" --tag "$tag" - >&2
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
size=$(dk image inspect --format '{{.Size}}' "$tag")
log "built $tag from $node_image in $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s; size $size bytes ($((size / 1024 / 1024)) MiB)"
dk image inspect --format '{{.Id}}' "$tag"
