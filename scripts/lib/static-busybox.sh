# Sourced by the base-image scripts: sets `busybox` to a static /bin/busybox, installing Debian's
# busybox-static when root can. Only a static busybox works in an image without the host's libc
# (Debian's plain `busybox` is dynamic). Needs the caller's `log`.
is_static() { [ -x "$1" ] && ! ldd "$1" >/dev/null 2>&1; }
busybox=/bin/busybox
if ! is_static "$busybox"; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian's busybox-static"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static >&2
  fi
  is_static "$busybox" || { log "a static /bin/busybox is required (Debian: apt-get install busybox-static)"; exit 1; }
fi
