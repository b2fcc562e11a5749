#!/usr/bin/env bash
# Makes sure the pinned Temporal CLI (dev server + Web UI) and tctl are built, and prints their
# paths. The build takes minutes, so binaries live in a cache outside the checkout, keyed by
# version, and are only built when missing.
set -euo pipefail

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
TCTL_VERSION="${TCTL_VERSION:-v1.18.4}"
CACHE_DIR="${SNAPKEEPER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/snapkeeper}"

build() { # name module version
  local name="$1" module="$2" version="$3"
  local dir="$CACHE_DIR/$name/$version"
  if [ -x "$dir/$name" ]; then
    echo "$dir/$name"
    return
  fi
  command -v go >/dev/null || { echo "ensure-temporal: Go is required to build $name ($module@$version)" >&2; exit 1; }
  mkdir -p "$dir"
  echo "ensure-temporal: building $name $version (a few minutes, once)" >&2
  # A private GOBIN per version keeps two pinned versions side by side; the temp name keeps a
  # half-written binary from ever being mistaken for a finished one.
  # Explicit checks: errexit does not apply inside a function called from `||`.
  GOBIN="$dir/.tmp" GOFLAGS="${GOFLAGS:-} -trimpath" go install "$module@$version" >&2 || return 1
  mv "$dir/.tmp/$name" "$dir/$name" || return 1
  rmdir "$dir/.tmp" 2>/dev/null || true
  echo "$dir/$name"
}

what="${1:-all}"
case "$what" in
  temporal) build temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION" ;;
  tctl) build tctl github.com/temporalio/tctl/cmd/tctl "$TCTL_VERSION" ;;
  all)
    build temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION"
    # tctl is optional: the Go module proxy reachable here refuses github.com/temporalio/tctl
    # (403 "not available"), so a missing tctl must not stop the dev server or the tests.
    # A refusal is remembered for a day so every test run does not repeat the same failed fetch.
    marker="$CACHE_DIR/tctl/$TCTL_VERSION/.unavailable"
    if [ -n "$(find "$marker" -mmin -1440 2>/dev/null)" ]; then
      echo "ensure-temporal: tctl $TCTL_VERSION unavailable (remembered in $marker); continuing without it" >&2
    elif ! build tctl github.com/temporalio/tctl/cmd/tctl "$TCTL_VERSION"; then
      mkdir -p "$(dirname "$marker")" && date -u > "$marker"
      echo "ensure-temporal: tctl $TCTL_VERSION could not be built (see above); continuing without it" >&2
    fi
    ;;
  *) echo "usage: $0 [temporal|tctl|all]" >&2; exit 2 ;;
esac
