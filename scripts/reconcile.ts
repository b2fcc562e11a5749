// Runs one reconcile now and prints its report as JSON, for operators:
//
//   npm run reconcile -- [--dry-run] [--host ID]... [--grace 10m]
//
// It starts reconcileWorkflow on the cluster (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE) and waits for
// it, so a workflow worker and the Docker worker of each host must be running. Without --host it
// reconciles every host that has a reconcile schedule or an open snapshot. The grace defaults to
// SNAPKEEPER_ORPHAN_GRACE. Exit status: 0 when every host was reconciled, 1 otherwise.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connectClient } from '../src/temporal/connect-client.js';
import { graceBelowFloor, loadConfig, parseDuration } from '../src/config/config.js';
import { HOST_ID_PATTERN } from '../src/contract/limits.js';
import { WORKFLOW_TASK_QUEUE } from '../src/contract/names.js';
import type { ReconcileWorkflowInput, reconcileWorkflow } from '../src/workflows/reconcile/workflow.js';

const USAGE = 'usage: npm run reconcile -- [--dry-run] [--host ID]... [--grace DURATION]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'dry-run': { type: 'boolean', default: false },
      host: { type: 'string', multiple: true },
      grace: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = loadConfig();
  const hosts = values.host ?? [];
  for (const h of hosts) {
    if (!HOST_ID_PATTERN.test(h)) throw new Error(`--host ${JSON.stringify(h)} is not a host id`);
  }
  let graceMs = config.reconcile.orphanGraceMs;
  if (values.grace) {
    try {
      graceMs = parseDuration(values.grace);
    } catch (err) {
      throw new Error(`--grace: ${(err as Error).message}`);
    }
  }
  // A dry run removes nothing: any grace may be asked what it would remove.
  const belowFloor = values['dry-run'] ? null : graceBelowFloor(graceMs, config.reconcile.minOrphanGraceMs);
  if (belowFloor) throw new Error(`--grace: ${belowFloor}`);
  const input: ReconcileWorkflowInput = {
    ...(hosts.length > 0 ? { hosts } : {}),
    orphanGraceSeconds: Math.round(graceMs / 1000),
    dryRun: values['dry-run'] ?? false,
  };

  const { connection, client } = await connectClient(config);
  try {
    const result = await client.workflow.execute<typeof reconcileWorkflow>('reconcileWorkflow', {
      workflowId: `snapkeeper-reconcile-manual-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`,
      taskQueue: WORKFLOW_TASK_QUEUE,
      args: [input],
      workflowExecutionTimeout: '30 minutes',
      staticSummary: `Reconcile now${input.dryRun ? ' (dry run)' : ''}`,
    });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return result.reports.every((r) => r.error === null) ? 0 : 1;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`reconcile failed: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exit(2);
  },
);
