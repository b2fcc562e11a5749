// B7 reads what it counts from the server: every run of a workflow, the histories of the runs, the
// workflows started in a window, and waits until a workflow has nothing left in flight (so the last
// upsert after an activity is in the history before it is read).
import type { Client } from '@temporalio/client';
import { waitFor } from '../test/support/wait-for.js';
import type { HistoryEvent } from './b7-history-cost.js';

export interface RunRef {
  workflowId: string;
  runId: string;
  type: string;
  open: boolean;
}

async function listRuns(client: Client, query: string): Promise<RunRef[]> {
  const runs: RunRef[] = [];
  for await (const wf of client.workflow.list({ query })) {
    runs.push({
      workflowId: wf.workflowId,
      runId: wf.runId,
      type: wf.type,
      open: wf.status.name === 'RUNNING',
    });
  }
  return runs;
}

/** Every run of these workflow ids that visibility knows (continue-as-new runs included). */
export async function runsOf(client: Client, workflowIds: readonly string[]): Promise<RunRef[]> {
  const runs: RunRef[] = [];
  // Visibility's OR of many ids is long: a page of ids at a time.
  for (let i = 0; i < workflowIds.length; i += 50) {
    const ids = workflowIds.slice(i, i + 50).map((id) => `'${id.replace(/'/g, "\\'")}'`);
    runs.push(...(await listRuns(client, `WorkflowId IN (${ids.join(', ')})`)));
  }
  return runs;
}

/** Runs of a workflow type, open or closed. */
export async function runsOfType(client: Client, type: string): Promise<RunRef[]> {
  return listRuns(client, `WorkflowType = '${type}'`);
}

/** Every workflow run started in [fromMs, toMs] (what a phase of B7 caused, whatever its type). */
export async function runsStartedBetween(client: Client, fromMs: number, toMs: number): Promise<RunRef[]> {
  const from = new Date(fromMs).toISOString();
  const to = new Date(toMs).toISOString();
  return listRuns(client, `StartTime >= '${from}' AND StartTime <= '${to}'`);
}

export async function historyOf(
  client: Client,
  run: { workflowId: string; runId?: string },
): Promise<HistoryEvent[]> {
  const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  return history.events ?? [];
}

/** Waits until the workflow has closed. */
export async function waitClosed(client: Client, workflowId: string, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => (await client.workflow.getHandle(workflowId).describe()).status.name !== 'RUNNING',
    { timeoutMs, intervalMs: 200, message: `${workflowId} never closed` },
  );
}

/**
 * Waits until the workflow has neither a workflow task nor an activity in flight: what it does in
 * reaction to the last message or completion is then in its history.
 */
export async function waitSettled(client: Client, workflowId: string, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const d = await client.workflow.getHandle(workflowId).describe();
      if (d.status.name !== 'RUNNING') return true;
      return !d.raw.pendingWorkflowTask && (d.raw.pendingActivities?.length ?? 0) === 0;
    },
    { timeoutMs, intervalMs: 100, message: `${workflowId} never settled` },
  );
}

/** Waits until visibility lists every one of `workflowIds` as started (its lag is not the cost). */
export async function waitListed(
  client: Client,
  workflowIds: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const wanted = new Set(workflowIds);
  await waitFor(
    async () => {
      const seen = new Set((await runsOf(client, [...wanted])).map((r) => r.workflowId));
      return [...wanted].every((id) => seen.has(id));
    },
    { timeoutMs, intervalMs: 500, message: `visibility never listed all of ${workflowIds.length} workflows` },
  );
}
