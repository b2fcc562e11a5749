#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas up to the version shipped
# with the server, with Temporal's own SQL tool and schema files. Idempotent: run it before every
# server start (an upgraded server brings newer versioned schema files).
#
# Used by the native cluster (scripts/lib/temporal-cluster.ts) and by the temporal-schema service
# of docker-compose.temporal.yml (admin-tools image).
#
#   POSTGRES_SEEDS, DB_PORT          the database server (default port 5432)
#   POSTGRES_USER, POSTGRES_PWD      a role that may create databases
#   DBNAME, VISIBILITY_DBNAME        default temporal, temporal_visibility
#   TEMPORAL_SQL_TOOL                default temporal-sql-tool
#   TEMPORAL_SCHEMA_DIR              default /etc/temporal/schema (as in the admin-tools image)
set -eu

tool="${TEMPORAL_SQL_TOOL:-temporal-sql-tool}"
schema_dir="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema}/postgresql/v12"
: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS to the database host}"
: "${POSTGRES_USER:?set POSTGRES_USER}"
export SQL_PASSWORD="${POSTGRES_PWD:-}"

migrate() { # database, schema directory
  set -- "$1" "$2" --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" --db "$1"
  db="$1" dir="$2"
  shift 2
  "$tool" "$@" create-database
  "$tool" "$@" setup-schema -v 0.0
  "$tool" "$@" update-schema -d "$schema_dir/$dir/versioned"
  echo "setup-schema: $db is up to date"
}

migrate "${DBNAME:-temporal}" temporal
migrate "${VISIBILITY_DBNAME:-temporal_visibility}" visibility
