#!/usr/bin/env bash
# Makes sure the pinned Temporal binaries are built, and prints their paths:
#   temporal   the CLI (dev server + Web UI), from the Go module proxy
#   tctl       the older CLI of the admin tools: from the proxy, else from the upstream source
#              tarball in ../shared/third-party (the proxy here refuses github.com/temporalio/tctl)
#   server     the Temporal server and its SQL schema tool (`temporal-server`, `temporal-sql-tool`)
#              for the PostgreSQL-backed cluster (scripts/cluster.sh)
# Builds take minutes, so binaries live in a cache outside the checkout, keyed by version, and are
# only built when missing.
set -euo pipefail

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
TCTL_VERSION="${TCTL_VERSION:-v1.18.4}"
# The server version inside the pinned CLI, so the dev server and the cluster behave alike.
TEMPORAL_SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-v1.29.1}"
CACHE_DIR="${SNAPKEEPER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/snapkeeper}"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TCTL_SOURCE="${TCTL_SOURCE:-$REPO_DIR/../shared/third-party/tctl-${TCTL_VERSION#v}.tar.gz}"

need_go() {
  command -v go >/dev/null || { echo "ensure-temporal: Go is required to build $1" >&2; return 1; }
}

# A private GOBIN per version keeps two pinned versions side by side; the temp name keeps a
# half-written binary from ever being mistaken for a finished one. Explicit `|| return 1`:
# errexit does not apply inside a function called from `||`.
install_module() { # name module version
  local name="$1" module="$2" version="$3"
  local dir="$CACHE_DIR/$name/$version"
  if [ -x "$dir/$name" ]; then
    echo "$dir/$name"
    return
  fi
  need_go "$name ($module@$version)" || return 1
  mkdir -p "$dir"
  echo "ensure-temporal: building $name $version (a few minutes, once)" >&2
  GOBIN="$dir/.tmp" GOFLAGS="${GOFLAGS:-} -trimpath" go install "$module@$version" >&2 || return 1
  mv "$dir/.tmp/$name" "$dir/$name" || return 1
  rmdir "$dir/.tmp" 2>/dev/null || true
  echo "$dir/$name"
}

build_tctl() {
  local dir="$CACHE_DIR/tctl/$TCTL_VERSION"
  if [ -x "$dir/tctl" ]; then
    echo "$dir/tctl"
    return
  fi
  if install_module tctl github.com/temporalio/tctl/cmd/tctl "$TCTL_VERSION" 2>"$CACHE_DIR/.tctl-install.log"; then
    return
  fi
  echo "ensure-temporal: go install of tctl $TCTL_VERSION refused ($(tail -n 1 "$CACHE_DIR/.tctl-install.log")); building from $TCTL_SOURCE" >&2
  [ -f "$TCTL_SOURCE" ] || { echo "ensure-temporal: no tctl source at $TCTL_SOURCE" >&2; return 1; }
  need_go tctl || return 1
  local src
  src="$(mktemp -d)"
  tar -xzf "$TCTL_SOURCE" -C "$src" || return 1
  local tree
  tree="$(find "$src" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
  mkdir -p "$dir"
  (cd "$tree" && GOFLAGS=-mod=mod go build -trimpath -o "$dir/.tctl.tmp" ./cmd/tctl) >&2 || return 1
  mv "$dir/.tctl.tmp" "$dir/tctl" || return 1
  rm -rf "$src"
  echo "$dir/tctl"
}

build_server() {
  local dir="$CACHE_DIR/temporal-server/$TEMPORAL_SERVER_VERSION"
  if [ -x "$dir/temporal-server" ] && [ -x "$dir/temporal-sql-tool" ] && [ -d "$dir/schema" ] && [ -d "$dir/config" ]; then
    printf '%s\n%s\n' "$dir/temporal-server" "$dir/temporal-sql-tool"
    return
  fi
  need_go "the Temporal server $TEMPORAL_SERVER_VERSION" || return 1
  echo "ensure-temporal: building temporal-server $TEMPORAL_SERVER_VERSION and its sql tool (several minutes, once)" >&2
  local mod="$dir/module"
  mkdir -p "$mod"
  cat >"$mod/go.mod" <<EOF
module snapkeeper.local/temporal-server

go 1.23

require go.temporal.io/server $TEMPORAL_SERVER_VERSION
EOF
  cat >"$mod/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "go.temporal.io/server/cmd/server"
	_ "go.temporal.io/server/cmd/tools/sql"
)
EOF
  (
    cd "$mod" &&
      GOFLAGS=-mod=mod go mod tidy >&2 &&
      GOFLAGS=-mod=mod go build -trimpath -o "$dir/.bin/" go.temporal.io/server/cmd/server go.temporal.io/server/cmd/tools/sql >&2
  ) || return 1
  local moddir
  moddir="$(cd "$mod" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' go.temporal.io/server)" || return 1
  # The schema files and the sample configs ship in the module; copied so the cache stands alone.
  rm -rf "$dir/schema" "$dir/config"
  cp -r "$moddir/schema" "$dir/schema" && cp -r "$moddir/config" "$dir/config" || return 1
  chmod -R u+w "$dir/schema" "$dir/config"
  mv "$dir/.bin/server" "$dir/temporal-server" && mv "$dir/.bin/sql" "$dir/temporal-sql-tool" || return 1
  rmdir "$dir/.bin" 2>/dev/null || true
  printf '%s\n%s\n' "$dir/temporal-server" "$dir/temporal-sql-tool"
}

mkdir -p "$CACHE_DIR"
what="${1:-all}"
case "$what" in
  temporal) install_module temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION" ;;
  tctl) build_tctl ;;
  server) build_server ;;
  all)
    install_module temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION"
    # The dev server and the service need only the CLI; tctl is for operators and its tests.
    # CI sets SNAPKEEPER_REQUIRE_TCTL=1 so its tctl tests never skip silently.
    if ! build_tctl; then
      if [ "${SNAPKEEPER_REQUIRE_TCTL:-0}" = 1 ]; then exit 1; fi
      echo "ensure-temporal: tctl $TCTL_VERSION could not be built (see above); continuing without it" >&2
    fi
    ;;
  *) echo "usage: $0 [temporal|tctl|server|all]" >&2; exit 2 ;;
esac
