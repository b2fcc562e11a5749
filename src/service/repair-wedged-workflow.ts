// Puts a wedged workflow back on its feet: one whose workflow task keeps failing with a
// nondeterminism error although its code did not change (a replay defect of the Temporal SDK, see
// choose-reset-point.ts). Such a run holds its image and answers nothing until someone resets it;
// the reconciler visits the owner of every managed image, so it is the one that notices and resets.
// A reset keeps the workflow id, state up to the reset point and the signals that came after it;
// every activity the workflow runs again from there is idempotent.
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { chooseResetPoint } from './choose-reset-point.js';

const { temporal } = proto;

/**
 * A workflow task that failed this many times in a row is looked at. Two is already past the
 * first retry, which a cache-less replay after a worker crash legitimately needs.
 */
export const WEDGED_TASK_ATTEMPTS = 3;

export type RepairOutcome =
  | { outcome: 'healthy' }
  | { outcome: 'left'; attempts: number; reason: string }
  | { outcome: 'reset'; attempts: number; runId: string; newRunId: string; eventId: number; reason: string };

export async function repairWedgedWorkflow(
  client: Client,
  workflowId: string,
  minAttempts: number = WEDGED_TASK_ATTEMPTS,
): Promise<RepairOutcome> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const attempts = description.raw.pendingWorkflowTask?.attempt ?? 0;
  if (description.status.name !== 'RUNNING' || attempts < minAttempts) return { outcome: 'healthy' };
  const runId = description.runId;
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const point = chooseResetPoint(history.events ?? []);
  if (point.kind === 'leave') return { outcome: 'left', attempts, reason: point.reason };
  const reason =
    `snapkeeper repair: its workflow task failed ${attempts} times in a row with a nondeterminism ` +
    `error; ${point.reason} (event ${point.eventId})`;
  const request = temporal.api.workflowservice.v1.ResetWorkflowExecutionRequest.fromObject({
    namespace: client.options.namespace,
    workflowExecution: { workflowId, runId },
    reason,
    workflowTaskFinishEventId: point.eventId,
    // The same run reset at the same point is one reset, however many reconcilers notice it.
    requestId: `snapkeeper-repair:${runId}:${point.eventId}`,
  });
  const response = await client.workflowService.resetWorkflowExecution(request);
  return {
    outcome: 'reset',
    attempts,
    runId,
    newRunId: response.runId ?? '',
    eventId: point.eventId,
    reason,
  };
}
