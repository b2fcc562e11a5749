#!/usr/bin/env bash
# Starts or stops a private Podman engine serving the Docker-compatible API: rootful, storage
# driver vfs, its own storage root and run root, file locks and events under its own directory, a
# unix socket. The counterpart of scripts/docker-engine.sh for SNAPKEEPER_TEST_ENGINE=podman
# (scripts/lib/docker-engine.ts chooses); same actions, same environment.
#
#   scripts/lib/podman-engine.sh start DIR   prints the socket path once the API answers
#   scripts/lib/podman-engine.sh stop DIR    removes its containers and stops the service
#
# Environment, the arguments, the stop, the watcher and the start's wait: engine-control.sh beside
# this file (shared with scripts/docker-engine.sh).
set -euo pipefail

ENGINE_NAME=podman-engine
ENGINE_DAEMON="podman system service"
# shellcheck source=engine-control.sh
source "$(dirname "${BASH_SOURCE[0]}")/engine-control.sh"
engine_args "$@"

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

engine_answers() { curl -sf --max-time 5 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

engine_alive() { kill -0 "$1" 2>/dev/null; }

is_service() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "podman.*system service.*$SOCK"
}

stop_engine() {
  local pid
  stop_watcher
  # Containers outlive the service (conmon holds them, not the service): remove them through the
  # CLI on the same storage, which works whether or not the service still answers.
  if [ -f "$CONF" ]; then podman_cli rm --all --force --time 0 >/dev/null 2>&1 || true; fi
  pid="$(read_pid "$PIDFILE")"
  if is_service "$pid"; then stop_process "$pid"; fi
  # conmon of a container the CLI could not remove, and the shm mounts of containers.
  local c
  for c in $(pgrep -f "conmon.*$RUN_DIR/" || true); do kill -KILL "$c" 2>/dev/null || true; done
  unmount_below "$DIR/" "$RUN_DIR/"
  rm -f "$PIDFILE"
  rm -rf "$RUN_DIR"
}

start_engine() {
  ensure_packages "podman curl" podman runc curl
  local pid
  pid="$(read_pid "$PIDFILE")"
  if is_service "$pid" && engine_answers; then
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
  engine_wait_ready "$pid"
}

engine_main
