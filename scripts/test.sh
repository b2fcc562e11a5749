#!/usr/bin/env bash
# `npm test`: static checks, then every vitest project (unit; workflow, the snapshot workflow's
# specification on Temporal's time-skipping test server; and integration against a real Temporal
# dev server and a private Docker engine; SNAPKEEPER_TEST_TEMPORAL=cluster: against the Temporal
# server on PostgreSQL instead). Extra arguments go to vitest, e.g.
#   npm test -- --project unit
#   npm test -- --project workflow
#   npm test -- --project integration test/integration/harness.test.ts
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

phase() { echo "==> $*" >&2; }

phase dependencies
bash scripts/ensure-deps.sh
phase typecheck
npm run --silent typecheck
phase lint
npm run --silent lint
# Built here rather than in the vitest global setup so a first build (minutes) is not mistaken
# for a hung test run, and its progress stays visible.
phase ensure-temporal
bash scripts/ensure-temporal.sh all >/dev/null
# The Temporal server on PostgreSQL: the mTLS test always starts one, SNAPKEEPER_TEST_TEMPORAL=cluster
# runs everything on one.
bash scripts/ensure-temporal.sh server >/dev/null
# The time-skipping test server of the workflow specification (test/workflow): Java, from Maven
# Central once.
phase ensure-test-server
bash scripts/ensure-test-server.sh >/dev/null
# Debian's Chromium for the Web UI test.
phase ensure-chromium
bash scripts/ensure-chromium.sh
phase vitest
if [ $# -gt 0 ]; then exec npx vitest run "$@"; fi
# With no arguments: the workflow project (the specification on the time-skipping server and the
# protocol simulation's kept counterexamples on a dev server of its own; with SNAPKEEPER_SIM=1 also
# its 10,000-action random run, ~4 min of mostly CPU) runs beside the unit and
# integration projects (~14 min, mostly waiting on timers and servers), in a vitest process of its
# own: vitest runs one file at a time on a 2-core machine, so in one process the simulation's
# minutes would add to the others'. Its output is printed when it ends, in one block.
workflow_log=$(mktemp -t snapkeeper-workflow-project.XXXXXX)
npx vitest run --project workflow >"$workflow_log" 2>&1 &
workflow_pid=$!
rc=0
npx vitest run --project unit --project integration || rc=$?
workflow_rc=0
wait "$workflow_pid" || workflow_rc=$?
phase "vitest --project workflow (ran beside the others; exit $workflow_rc)"
cat "$workflow_log"
rm -f "$workflow_log"
[ "$rc" -eq 0 ] && [ "$workflow_rc" -eq 0 ]
