#!/bin/sh
# Creates the Temporal namespace when it does not exist, and registers snapkeeper's custom search
# attributes in it with the `temporal` CLI (run by the admin-tools container of
# docker-compose.temporal.yml). Idempotent: a namespace or an attribute that already exists is fine. The worker registers them too at start-up; doing it here as well means
# operators can query by them in the Web UI before any worker has ever run.
#
#   TEMPORAL_ADDRESS               default temporal:7233
#   TEMPORAL_NAMESPACE             default "default"
#   TEMPORAL_NAMESPACE_RETENTION   retention of closed workflows in a new namespace, default 7d
#   SNAPKEEPER_SEARCH_ATTRIBUTES   space-separated Name=Type pairs (see src/contract/search-attributes.ts)
#   TEMPORAL_CLI                   default "temporal"
set -eu

address="${TEMPORAL_ADDRESS:-temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
cli="${TEMPORAL_CLI:-temporal}"
: "${SNAPKEEPER_SEARCH_ATTRIBUTES:?set SNAPKEEPER_SEARCH_ATTRIBUTES to Name=Type pairs}"

retention="${TEMPORAL_NAMESPACE_RETENTION:-7d}"

# The server answers only once its schema is set up and its services have joined.
tries=0
until out="$("$cli" operator cluster health --address "$address" 2>&1)"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 150 ]; then
    echo "Temporal at $address did not become healthy within 5 minutes: $out" >&2
    exit 1
  fi
  sleep 2
done

if ! "$cli" operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
  "$cli" operator namespace create --address "$address" --namespace "$namespace" --retention "$retention" >/dev/null 2>&1 ||
    "$cli" operator namespace describe --address "$address" --namespace "$namespace" >/dev/null
  echo "namespace $namespace created (retention $retention)"
fi
# A new namespace reaches every frontend's cache within seconds; until then attributes cannot be added.
tries=0
until "$cli" operator search-attribute list --address "$address" --namespace "$namespace" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "namespace $namespace at $address is not usable after 60 s" >&2
    exit 1
  fi
  sleep 2
done

list() { "$cli" operator search-attribute list --address "$address" --namespace "$namespace"; }

for pair in $SNAPKEEPER_SEARCH_ATTRIBUTES; do
  name="${pair%%=*}"
  type="${pair#*=}"
  if "$cli" operator search-attribute create --address "$address" --namespace "$namespace" \
    --name "$name" --type "$type" >/dev/null 2>&1; then
    echo "$name ($type) registered in $namespace"
  elif list | grep -qw "$name"; then
    echo "$name already exists in $namespace"
  else
    echo "could not create search attribute $name ($type) in $namespace" >&2
    exit 1
  fi
done
