// What a snapshot workflow holds right now, read from the workflow itself rather than from
// visibility (which trails it, and shows no image id): operator actions decide on this, and name
// the image they read in what they send.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { stateQuery } from '../contract/messages.js';
import { SNAPSHOT_MEMO_KEY } from '../contract/names.js';
import type { SnapshotMemo, SnapshotState } from '../contract/snapshot-types.js';

export interface CurrentImage {
  /** The run read: an action bound to it cannot reach a later run of the same workflow id. */
  runId: string;
  current: SnapshotState | null;
}

/** null when the workflow is not running (closed, or never started). */
export async function readCurrentImage(client: Client, workflowId: string): Promise<CurrentImage | null> {
  let description;
  try {
    description = await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
  if (description.status.name !== 'RUNNING') return null;
  const memo = description.memo?.[SNAPSHOT_MEMO_KEY] as SnapshotMemo | undefined;
  // A pending task may hold a registration the memo does not show yet: then ask the workflow (the
  // query is answered after that task). Runs from before the memo have none either.
  if (memo && 'current' in memo && !description.raw.pendingWorkflowTask) {
    return { runId: description.runId, current: memo.current };
  }
  const view = await client.workflow.getHandle(workflowId, description.runId).query(stateQuery);
  return { runId: description.runId, current: view.current };
}
