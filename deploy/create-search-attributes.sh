#!/bin/sh
# Registers snapkeeper's custom search attributes in a Temporal namespace with the `temporal` CLI
# (run by the admin-tools container of docker-compose.temporal.yml). Idempotent: an attribute that
# already exists is fine. The worker registers them too at start-up; doing it here as well means
# operators can query by them in the Web UI before any worker has ever run.
#
#   TEMPORAL_ADDRESS               default temporal:7233
#   TEMPORAL_NAMESPACE             default "default"
#   SNAPKEEPER_SEARCH_ATTRIBUTES   space-separated Name=Type pairs (see src/shared/names.ts)
#   TEMPORAL_CLI                   default "temporal"
set -eu

address="${TEMPORAL_ADDRESS:-temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
cli="${TEMPORAL_CLI:-temporal}"
: "${SNAPKEEPER_SEARCH_ATTRIBUTES:?set SNAPKEEPER_SEARCH_ATTRIBUTES to Name=Type pairs}"

# The server creates the namespace only after its schema is set up; health alone is not enough.
tries=0
until "$cli" operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 150 ]; then
    echo "namespace $namespace at $address did not appear within 5 minutes" >&2
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
