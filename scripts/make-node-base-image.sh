#!/usr/bin/env bash
# Builds a Node.js base image from this machine's own Node runtime, for engines that cannot pull
# node:20-slim (no registry is reachable on the build machines). The Dockerfile takes it as
# --build-arg NODE_IMAGE=NAME. Idempotent: an existing image of that name is left alone.
#
#   scripts/make-node-base-image.sh DOCKER_HOST_URI [NAME[:TAG]]
#   default NAME: snapkeeper-local/node:<this node's version>, e.g. snapkeeper-local/node:20.20.2
#
# What node:20-slim offers the Dockerfile, and no more: `node` and `npm` on PATH, a POSIX shell and
# the usual tools (busybox-static) for the build stage's RUN lines, a `node` user (uid/gid 1000) to
# run as, a /tmp with mode 1777, CA certificates for TLS, and the shared libraries that `node` and
# native addons built for glibc (Temporal's core bridge) link against.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 DOCKER_HOST_URI [NAME[:TAG]]" >&2; exit 2; }
host="$1"
node_bin="$(readlink -f "$(command -v node)")"
node_version="$("$node_bin" --version)"
name="${2:-snapkeeper-local/node:${node_version#v}}"
case "$name" in *:*) ;; *) name="$name:latest" ;; esac

log() { echo "make-node-base-image: $*" >&2; }
dk() { docker -H "$host" "$@"; }

if dk image inspect --format '{{.Id}}' "$name" 2>/dev/null; then exit 0; fi

source "$(dirname "${BASH_SOURCE[0]}")/lib/static-busybox.sh"
# npm as this Node ships it (Debian and the node.js tarballs both keep it in lib/node_modules/npm).
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
[ -f "$npm_dir/bin/npm-cli.js" ] || { log "npm not found next to $node_bin (looked in $npm_dir)"; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,usr/bin,usr/local/bin,usr/local/lib/node_modules,etc/ssl/certs,tmp,proc,sys,dev,home/node}
chmod 1777 "$root/tmp"

cp "$node_bin" "$root/usr/local/bin/node"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

# Every library ldd lists for node, at the same path, plus librt: glibc splits it off, node does
# not link it, but Temporal's native core bridge does.
copy_lib() {
  local lib="$1"
  [ -e "$lib" ] || return 0
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
}
for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do copy_lib "$lib"; done
libdir="$(dirname "$(ldd "$node_bin" | grep -o '/[^ ]*/libc\.so\.6')")"
copy_lib "$libdir/librt.so.1"

cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
# npm's bin scripts start with `#!/usr/bin/env node`.
ln -s ../../bin/env "$root/usr/bin/env"

if [ -f /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"; fi
printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
chown 1000:1000 "$root/home/node"

log "importing $name ($node_version, npm $("$node_bin" "$npm_dir/bin/npm-cli.js" --version))"
tar --numeric-owner -C "$root" -c . |
  dk import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'CMD ["node"]' \
    --message "Node.js base image made by snapkeeper from $node_bin ($node_version)" \
    - "$name" >/dev/null
dk image inspect --format '{{.Id}}' "$name"
