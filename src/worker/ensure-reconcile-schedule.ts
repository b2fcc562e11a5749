import type { Client, ScheduleDescription, ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { WORKFLOW_TASK_QUEUE, WORKFLOW_TYPES, reconcileScheduleId } from '../contract/names.js';
import type { ReconcileWorkflowInput } from '../contract/reconcile-types.js';
import type { reconcileWorkflow } from '../workflows/reconcile/workflow.js';

export interface ReconcileScheduleSettings {
  hostId: string;
  intervalMs: number;
  orphanGraceSeconds: number;
}

export type EnsureOutcome = 'created' | 'updated' | 'unchanged';

function action(s: ReconcileScheduleSettings): ScheduleOptionsStartWorkflowAction<typeof reconcileWorkflow> {
  const input: ReconcileWorkflowInput = {
    hosts: [s.hostId],
    orphanGraceSeconds: s.orphanGraceSeconds,
    dryRun: false,
  };
  return {
    type: 'startWorkflow',
    workflowType: WORKFLOW_TYPES.reconcile,
    // The schedule appends the scheduled time, so each run has its own id.
    workflowId: reconcileScheduleId(s.hostId),
    taskQueue: WORKFLOW_TASK_QUEUE,
    args: [input],
    // A run that cannot finish (a host down for long) must not block the next ones forever.
    workflowExecutionTimeout: Math.max(s.intervalMs * 3, 15 * 60_000),
    staticSummary: `Reconcile host ${s.hostId}`,
  };
}

function matches(d: ScheduleDescription, s: ReconcileScheduleSettings): boolean {
  const interval = d.spec.intervals?.[0];
  const args = d.action.args as ReconcileWorkflowInput[] | undefined;
  return (
    d.spec.intervals?.length === 1 &&
    interval !== undefined &&
    Number(interval.every) === s.intervalMs &&
    d.policies.overlap === ScheduleOverlapPolicy.SKIP &&
    d.action.workflowType === WORKFLOW_TYPES.reconcile &&
    d.action.taskQueue === WORKFLOW_TASK_QUEUE &&
    JSON.stringify(args?.[0]) === JSON.stringify(action(s).args[0])
  );
}

/**
 * Creates the reconcile schedule of this worker's host, or brings an existing one in line with the
 * configuration. Idempotent and safe for several workers of one host starting at once: the loser of
 * a create race finds the schedule and compares it.
 */
export async function ensureReconcileSchedule(
  client: Client,
  settings: ReconcileScheduleSettings,
): Promise<EnsureOutcome> {
  const scheduleId = reconcileScheduleId(settings.hostId);
  const spec = { intervals: [{ every: settings.intervalMs }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' };
  try {
    await client.schedule.create({ scheduleId, spec, action: action(settings), policies });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(scheduleId);
  if (matches(await handle.describe(), settings)) return 'unchanged';
  await handle.update((previous) => ({
    ...previous,
    spec,
    action: action(settings),
    policies: { ...previous.policies, ...policies },
  }));
  return 'updated';
}
