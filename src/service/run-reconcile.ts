// Runs one reconcile now, outside the schedules: what `snapkeeper reconcile` and operators' scripts
// use. A run needs the workflow worker and the Docker worker of each host it names.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { HOST_ID_PATTERN } from '../contract/limits.js';
import { WORKFLOW_TASK_QUEUE, WORKFLOW_TYPES } from '../contract/names.js';
import type { ReconcileResult, ReconcileWorkflowInput } from '../contract/reconcile-types.js';
import type { reconcileWorkflow } from '../workflows/reconcile/workflow.js';

export const MANUAL_RECONCILE_ID_PREFIX = 'snapkeeper-reconcile-manual-';

export interface RunReconcileInput {
  /** Hosts to reconcile; every known host (a reconcile schedule or an open snapshot) when empty. */
  hosts?: string[];
  orphanGraceSeconds: number;
  dryRun: boolean;
  /** How long a host's Docker worker may take to pick up work before the host counts as down. */
  hostTimeoutSeconds?: number;
}

export interface StartedReconcile {
  workflowId: string;
  result(): Promise<ReconcileResult>;
}

export async function startReconcile(client: Client, input: RunReconcileInput): Promise<StartedReconcile> {
  const hosts = input.hosts ?? [];
  for (const h of hosts) {
    if (!HOST_ID_PATTERN.test(h)) throw new RangeError(`${JSON.stringify(h)} is not a host id`);
  }
  const args: ReconcileWorkflowInput = {
    ...(hosts.length > 0 ? { hosts } : {}),
    orphanGraceSeconds: input.orphanGraceSeconds,
    dryRun: input.dryRun,
    ...(input.hostTimeoutSeconds !== undefined ? { hostTimeoutSeconds: input.hostTimeoutSeconds } : {}),
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const handle = await client.workflow.start<typeof reconcileWorkflow>(WORKFLOW_TYPES.reconcile, {
    workflowId: `${MANUAL_RECONCILE_ID_PREFIX}${stamp}-${randomUUID().slice(0, 8)}`,
    taskQueue: WORKFLOW_TASK_QUEUE,
    args: [args],
    workflowExecutionTimeout: '30 minutes',
    staticSummary: `Reconcile now${args.dryRun ? ' (dry run)' : ''}${hosts.length > 0 ? `: ${hosts.join(', ')}` : ''}`,
  });
  return { workflowId: handle.workflowId, result: () => handle.result() };
}
