#!/usr/bin/env bash
# Starts or stops a private Podman engine serving the Docker-compatible API: rootful, storage
# driver vfs, its own storage root and run root, file locks and events under its own directory, a
# unix socket. The counterpart of scripts/docker-engine.sh for SNAPKEEPER_TEST_ENGINE=podman
# (scripts/lib/docker-engine.ts chooses); same actions, same environment.
#
#   scripts/lib/podman-engine.sh start DIR   prints the socket path once the API answers
#   scripts/lib/podman-engine.sh stop DIR    removes its containers and stops the service
#
# Environment:
#   DOCKER_ENGINE_START_TIMEOUT   seconds to wait for the API (default 90)
#   DOCKER_ENGINE_STOP_TIMEOUT    seconds to wait for a graceful exit (default 30)
#   DOCKER_ENGINE_OWNER_PID       if set, a watcher stops the engine when this process is gone
set -euo pipefail

usage() { echo "usage: $0 start|stop|socket DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action="$1"
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")"
if [ "$action" = stop ] && [ ! -d "$2" ]; then exit 0; fi
mkdir -p "$2"
DIR="$(cd "$2" && pwd -P)"

log() { echo "podman-engine: $*" >&2; }

# conmon's attach socket lives 90 bytes below the run root, and a unix socket path must fit in
# 108: the run root (and the API socket with it) goes in a short directory named after DIR.
RUN_DIR="/tmp/skp-$(printf '%s' "$DIR" | sha256sum | cut -c1-12)"
SOCK="$RUN_DIR/podman.sock"
PIDFILE="$DIR/podman.pid"
WATCH_PIDFILE="$DIR/watcher.pid"
LOG="$DIR/podman.log"
CONF="$DIR/containers.conf"
STORAGE_CONF="$DIR/storage.conf"

# This sandbox's hard limits are below Podman's default rlimits and its processes lack
# CAP_SYS_RESOURCE, so no runtime may raise them: no default ulimits at all. runc, not crun: crun
# 1.8 refuses hybrid cgroups. File locks under the engine's own tmpdir: the default shm lock
# segment (/libpod_lock) is one per machine, shared by every rootful Podman, and two private
# engines (two hosts) would take each other's lock numbers.
write_conf() {
  cat >"$CONF" <<EOF
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
tmp_dir = "$RUN_DIR/libpod"
volume_path = "$DIR/volumes"
[network]
network_config_dir = "$DIR/networks"
EOF
  cat >"$STORAGE_CONF" <<EOF
[storage]
driver = "vfs"
graphroot = "$DIR/storage"
runroot = "$RUN_DIR/run"
EOF
}

podman_cli() {
  CONTAINERS_CONF="$CONF" CONTAINERS_STORAGE_CONF="$STORAGE_CONF" podman \
    --root "$DIR/storage" --runroot "$RUN_DIR/run" --storage-driver vfs "$@"
}

answers() { curl -sf --max-time 5 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

is_running() {
  kill -0 "$1" 2>/dev/null || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

read_pid() { [ -f "$1" ] && tr -dc '0-9' <"$1" || true; }

is_service() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "podman.*system service.*$SOCK"
}

ensure_installed() {
  if command -v podman >/dev/null && command -v curl >/dev/null; then return; fi
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    log "podman not found; installing Debian's podman"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc curl >&2
  else
    log "podman is required (Debian: apt-get install podman); run as root to install automatically"
    exit 1
  fi
}

stop_engine() {
  local pid watcher
  watcher="$(read_pid "$WATCH_PIDFILE")"
  if [ -n "$watcher" ] && [ "$watcher" != "${WATCHER_SELF:-}" ]; then kill "$watcher" 2>/dev/null || true; fi
  rm -f "$WATCH_PIDFILE"
  # Containers outlive the service (conmon holds them, not the service): remove them through the
  # CLI on the same storage, which works whether or not the service still answers.
  if [ -f "$CONF" ]; then podman_cli rm --all --force --time 0 >/dev/null 2>&1 || true; fi
  pid="$(read_pid "$PIDFILE")"
  if is_service "$pid"; then
    kill -TERM "$pid"
    local deadline=$((SECONDS + ${DOCKER_ENGINE_STOP_TIMEOUT:-30}))
    while is_running "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if is_running "$pid"; then
      log "podman service $pid ignored SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while is_running "$pid"; do sleep 0.1; done
    fi
  fi
  # conmon of a container the CLI could not remove, and the shm mounts of containers.
  local c
  for c in $(pgrep -f "conmon.*$RUN_DIR/" || true); do kill -KILL "$c" 2>/dev/null || true; done
  local root m
  for root in "$DIR/" "$RUN_DIR/"; do
    awk -v r="$root" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
  done
  rm -f "$PIDFILE"
  rm -rf "$RUN_DIR"
}

start_watcher() {
  local owner="$1"
  setsid bash -c '
    owner="$1"; script="$2"; dir="$3"
    while kill -0 "$owner" 2>/dev/null; do sleep 2; done
    WATCHER_SELF=$$ "$script" stop "$dir"
  ' podman-engine-watcher "$owner" "$SELF" "$DIR" </dev/null >>"$LOG" 2>&1 &
  echo $! >"$WATCH_PIDFILE"
}

start_engine() {
  ensure_installed
  local pid
  pid="$(read_pid "$PIDFILE")"
  if is_service "$pid" && answers; then
    log "already running (pid $pid)"
    echo "$SOCK"
    return
  fi
  stop_engine
  mkdir -p "$DIR/storage" "$DIR/volumes" "$DIR/networks" "$RUN_DIR/run" "$RUN_DIR/libpod"
  write_conf
  echo "=== $(date -u +%FT%TZ) podman system service unix://$SOCK" >>"$LOG"
  CONTAINERS_CONF="$CONF" CONTAINERS_STORAGE_CONF="$STORAGE_CONF" setsid podman \
    --root "$DIR/storage" --runroot "$RUN_DIR/run" --storage-driver vfs \
    system service --time 0 "unix://$SOCK" </dev/null >>"$LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  local deadline=$((SECONDS + ${DOCKER_ENGINE_START_TIMEOUT:-90}))
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "podman system service exited during start-up; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "podman did not answer within ${DOCKER_ENGINE_START_TIMEOUT:-90}s; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      stop_engine
      exit 1
    fi
    sleep 0.2
  done
  if [ -n "${DOCKER_ENGINE_OWNER_PID:-}" ]; then start_watcher "$DOCKER_ENGINE_OWNER_PID"; fi
  echo "$SOCK"
}

case "$action" in
  start) start_engine ;;
  stop) stop_engine ;;
  socket) echo "$SOCK" ;;
  *) usage ;;
esac
