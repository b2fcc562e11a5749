#!/usr/bin/env bash
# Builds a tiny base image from Debian's busybox-static, for engines that cannot pull anything.
# Idempotent: an existing image of that name is left alone.
#
#   scripts/make-base-image.sh DOCKER_HOST_URI NAME[:TAG]
#   e.g. scripts/make-base-image.sh unix:///tmp/x/docker.sock snapkeeper-test/base:latest
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 DOCKER_HOST_URI NAME[:TAG]" >&2; exit 2; }
host="$1"
name="$2"
case "$name" in *:*) ;; *) name="$name:latest" ;; esac

log() { echo "make-base-image: $*" >&2; }
dk() { docker -H "$host" "$@"; }

if dk image inspect --format '{{.Id}}' "$name" 2>/dev/null; then exit 0; fi

source "$(dirname "${BASH_SOURCE[0]}")/lib/static-busybox.sh"

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
# Every applet, not a hand-picked few: tests and snapshots may use any ordinary shell tool.
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

tar --numeric-owner --owner=0 --group=0 -C "$root" -c . |
  dk import \
    --change 'ENV PATH=/bin' \
    --change 'CMD ["/bin/sh"]' \
    --message "busybox-static base image made by snapkeeper" \
    - "$name" >/dev/null
dk image inspect --format '{{.Id}}' "$name"
