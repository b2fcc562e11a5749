# Sourced by scripts/docker-engine.sh and scripts/lib/podman-engine.sh: what a private engine's
# start/stop script does the same whatever the engine is: its arguments, the pid helpers, the
# SIGTERM-then-SIGKILL stop, the watcher that stops the engine when its owner is gone, the wait for
# the API to answer, and the action switch.
#
# The sourcing script sets ENGINE_NAME (log prefix, watcher name) and ENGINE_DAEMON (the process
# named in messages) before it sources this file, then defines after `engine_args "$@"`:
#   engine_answers        true when the engine's API answers
#   engine_alive PID      true while the engine started as PID (or its pidfile's process) lives
#   start_engine          ensure_installed, start, `engine_wait_ready PID`, print the socket
#   stop_engine           stop it and remove everything of it but DIR's persistent data
# and the variables SOCK (the API socket), LOG and WATCH_PIDFILE; then calls `engine_main`.
#
# Environment (both engines):
#   DOCKER_ENGINE_START_TIMEOUT   seconds to wait for the API (default 90)
#   DOCKER_ENGINE_STOP_TIMEOUT    seconds to wait for a graceful exit (default 30)
#   DOCKER_ENGINE_OWNER_PID       if set, a watcher stops the engine when this process is gone, so
#                                 a test run killed with SIGKILL does not leak an engine

log() { echo "$ENGINE_NAME: $*" >&2; }

usage() { echo "usage: $SELF start|stop|socket DIR" >&2; exit 2; }

# Sets action, SELF (the sourcing script, which the watcher runs again to stop) and DIR (absolute,
# created). A stop of a directory that does not exist has nothing to do.
engine_args() {
  SELF="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd -P)/$(basename "${BASH_SOURCE[1]}")"
  [ $# -eq 2 ] || usage
  action="$1"
  if [ "$action" = stop ] && [ ! -d "$2" ]; then exit 0; fi
  mkdir -p "$2"
  DIR="$(cd "$2" && pwd -P)"
}

# Alive and not a zombie (a zombie still answers kill -0).
is_running() {
  kill -0 "$1" 2>/dev/null || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

read_pid() { [ -f "$1" ] && tr -dc '0-9' <"$1" || true; }

# Installs Debian packages when a command is missing and root can: ensure_packages "cmd..." pkg...
ensure_packages() {
  local commands="$1" c missing=0
  shift
  for c in $commands; do command -v "$c" >/dev/null || missing=1; done
  [ "$missing" -eq 1 ] || return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    log "$commands not all found; installing Debian's $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
  else
    log "$commands are required (Debian: apt-get install $*); run as root to install automatically"
    exit 1
  fi
}

# Lazily unmounts every mount below each given directory (a trailing slash each), innermost first:
# what containers leave mounted keeps the engine's directories busy.
unmount_below() {
  local root m
  for root in "$@"; do
    awk -v r="$root" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
  done
}

# SIGTERM, then SIGKILL after DOCKER_ENGINE_STOP_TIMEOUT; returns once PID is gone.
stop_process() {
  local pid="$1"
  kill -TERM "$pid"
  local deadline=$((SECONDS + ${DOCKER_ENGINE_STOP_TIMEOUT:-30}))
  while is_running "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if is_running "$pid"; then
    log "$ENGINE_DAEMON $pid ignored SIGTERM for ${DOCKER_ENGINE_STOP_TIMEOUT:-30}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while is_running "$pid"; do sleep 0.1; done
  fi
}

# The watcher of an earlier start goes first, unless it is the one stopping the engine now.
stop_watcher() {
  local watcher
  watcher="$(read_pid "$WATCH_PIDFILE")"
  if [ -n "$watcher" ] && [ "$watcher" != "${WATCHER_SELF:-}" ]; then kill "$watcher" 2>/dev/null || true; fi
  rm -f "$WATCH_PIDFILE"
}

start_watcher() {
  local owner="$1"
  # setsid + closed fds: the watcher must not hold the caller's stdout open (the caller reads the
  # socket path until EOF) and must not die with the caller's process group.
  setsid bash -c '
    owner="$1"; script="$2"; dir="$3"
    while kill -0 "$owner" 2>/dev/null; do sleep 2; done
    WATCHER_SELF=$$ "$script" stop "$dir"
  ' "$ENGINE_NAME-watcher" "$owner" "$SELF" "$DIR" </dev/null >>"$LOG" 2>&1 &
  echo $! >"$WATCH_PIDFILE"
}

# Waits until the API answers; fails with the log's tail if the engine exits or the deadline passes.
# Then starts the owner's watcher, if any, and prints the socket path.
engine_wait_ready() {
  local pid="$1"
  local deadline=$((SECONDS + ${DOCKER_ENGINE_START_TIMEOUT:-90}))
  until engine_answers; do
    if ! engine_alive "$pid"; then
      log "$ENGINE_DAEMON exited during start-up; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "$ENGINE_DAEMON did not answer within ${DOCKER_ENGINE_START_TIMEOUT:-90}s; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      stop_engine
      exit 1
    fi
    sleep 0.2
  done
  if [ -n "${DOCKER_ENGINE_OWNER_PID:-}" ]; then start_watcher "$DOCKER_ENGINE_OWNER_PID"; fi
  echo "$SOCK"
}

engine_main() {
  case "$action" in
    start) start_engine ;;
    stop) stop_engine ;;
    socket) echo "$SOCK" ;;
    *) usage ;;
  esac
}
