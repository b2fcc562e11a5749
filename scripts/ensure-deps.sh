#!/usr/bin/env bash
# Installs the npm dependencies when a checkout has none yet, or when package-lock.json changed
# since the last install, so `npm run dev` and `npm test` work as the first commands on a fresh clone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "ensure-deps: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
