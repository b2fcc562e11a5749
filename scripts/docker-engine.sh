#!/usr/bin/env bash
# Starts or stops a private Docker engine: its own socket, data root and exec root, no bridge and
# no iptables rules. snapkeeper deletes images, so tests and `npm run dev` must never talk to the
# engine of the machine they run on.
#
#   scripts/docker-engine.sh start DIR   prints the socket path once `docker info` answers
#   scripts/docker-engine.sh stop DIR    stops it (SIGTERM, then SIGKILL after a deadline)
#   scripts/docker-engine.sh socket DIR  prints the socket path a started engine uses
#
# Environment, the arguments, the stop, the watcher and the start's wait: scripts/lib/engine-control.sh
# (shared with the Podman engine, scripts/lib/podman-engine.sh).
set -euo pipefail

ENGINE_NAME=docker-engine
ENGINE_DAEMON=dockerd
# shellcheck source=lib/engine-control.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/engine-control.sh"
engine_args "$@"

# A unix socket path must fit in 108 bytes, and the managed containerd puts its own sockets a few
# levels below the exec root; a deep DIR therefore gets its socket and exec root in a short
# directory under /tmp, named after DIR so that start and stop agree on it.
runtime_dir() {
  if [ ${#DIR} -le 50 ]; then
    echo "$DIR"
  else
    echo "/tmp/skd-$(printf '%s' "$DIR" | sha256sum | cut -c1-12)"
  fi
}
RUN_DIR="$(runtime_dir)"
SOCK="$RUN_DIR/docker.sock"
EXEC_ROOT="$RUN_DIR/exec"
PIDFILE="$DIR/docker.pid"
WATCH_PIDFILE="$DIR/watcher.pid"
LOG="$DIR/dockerd.log"

docker_client() { docker -H "unix://$SOCK" "$@"; }

# True when PID is alive and is a dockerd (guards against a recycled pid in a stale pidfile).
is_dockerd() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q dockerd
}

engine_answers() { docker_client info >/dev/null 2>&1; }

# $1 is dockerd itself (setsid execs in place); the pidfile check covers a forking setsid.
engine_alive() { kill -0 "$1" 2>/dev/null || is_dockerd "$(read_pid "$PIDFILE")"; }

# Called only once dockerd is gone. A dockerd killed with SIGKILL leaves its managed containerd
# exiting (or exited with a pidfile a new dockerd trusts and waits on), container shims, the
# containers' processes themselves, and mounts that keep the directories busy.
clean_leftovers() {
  local f pid
  # A container's init is PID 1 of its pid namespace: killing it ends everything inside.
  for f in "$EXEC_ROOT"/containerd/daemon/io.containerd.runtime.v2.task/*/*/init.pid; do
    [ -f "$f" ] || continue
    pid="$(read_pid "$f")"
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in $(pgrep -f "containerd-shim.*-address $EXEC_ROOT/" || true); do kill -KILL "$pid" 2>/dev/null || true; done

  pid="$(read_pid "$EXEC_ROOT/containerd/containerd.pid")"
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = containerd ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do is_running "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do is_running "$pid" || break; sleep 0.1; done
  fi
  rm -f "$EXEC_ROOT/containerd/containerd.pid"

  # Containers' overlay mounts and network namespaces.
  unmount_below "$DIR/data/" "$EXEC_ROOT/"
  local m
  # dockerd turns a data root that is not a mount point into a private bind mount of itself, and
  # only undoes that on a clean shutdown. Such a bind shows a root other than "/" in mountinfo; a
  # filesystem the caller mounted there on purpose (a tmpfs for disk-pressure tests) shows "/".
  awk -v d="$DIR/data" '$5 == d && $4 != "/" { print $5 }' /proc/self/mountinfo | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -f "$EXEC_ROOT/unmount-on-shutdown"
}

stop_engine() {
  local pid
  stop_watcher
  pid="$(read_pid "$PIDFILE")"
  if is_dockerd "$pid"; then
    # Containers of a private engine are disposable, and `sleep` as PID 1 ignores SIGTERM: a
    # graceful shutdown would wait 10s per container for nothing.
    local running
    running="$(docker_client ps -q 2>/dev/null || true)"
    if [ -n "$running" ]; then
      # shellcheck disable=SC2086
      docker_client kill $running >/dev/null 2>&1 || true
    fi
    stop_process "$pid"
  fi
  clean_leftovers
  rm -f "$PIDFILE" "$SOCK"
  # The short runtime directory belongs to this engine alone and holds only run-time state.
  if [ "$RUN_DIR" != "$DIR" ]; then rm -rf "$RUN_DIR"; fi
}

start_engine() {
  ensure_packages "dockerd docker" docker.io
  local pid
  pid="$(read_pid "$PIDFILE")"
  if is_dockerd "$pid"; then
    if engine_answers; then
      log "already running (pid $pid)"
      echo "$SOCK"
      return
    fi
    log "dockerd $pid is running but not answering; restarting it"
  elif [ -n "$pid" ]; then
    log "removing stale pidfile (pid $pid is not a dockerd)"
  fi
  stop_engine

  mkdir -p "$DIR/data" "$EXEC_ROOT"
  local args=(
    --host "unix://$SOCK"
    --data-root "$DIR/data"
    --exec-root "$EXEC_ROOT"
    --pidfile "$PIDFILE"
    --bridge=none
    --iptables=false
  )
  # Older engines lack --ip6tables; where it exists it must be off too (loopback only here).
  if dockerd --help 2>&1 | grep -q -- '--ip6tables'; then args+=(--ip6tables=false); fi
  # A host with a system containerd (e.g. /run/containerd) must not have our engine share it:
  # dockerd starts its own managed containerd when it is not told an address.
  echo "=== $(date -u +%FT%TZ) dockerd ${args[*]}" >>"$LOG"
  setsid dockerd "${args[@]}" </dev/null >>"$LOG" 2>&1 &
  engine_wait_ready $!
}

engine_main
