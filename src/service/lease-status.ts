// Whether a lease lives, by one describe of its workflow: live iff the workflow is Running (that
// is the definition explain and the reconciler share). Bounded by a deadline: the reconciler asks
// this for each leased candidate, and one slow answer must not hold a whole page.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { LeaseMemo } from '../contract/lease-types.js';
import { LEASE_MEMO_KEY, leaseWorkflowId } from '../contract/names.js';

export type LeaseStatus =
  | { state: 'live'; lease: LeaseMemo | null }
  /** Released, expired, terminated, or unknown to Temporal (never made, or past retention). */
  | { state: 'ended'; status: string };

export type LeaseLookup = (leaseId: string) => Promise<LeaseStatus>;

export const LEASE_DESCRIBE_DEADLINE_MS = 5_000;

function memoOf(memo: Record<string, unknown> | undefined): LeaseMemo | null {
  const m = memo?.[LEASE_MEMO_KEY] as Partial<LeaseMemo> | undefined;
  return m && typeof m.projectId === 'string' && typeof m.workItemId === 'string'
    ? { projectId: m.projectId, workItemId: m.workItemId, expiresAt: String(m.expiresAt ?? '') }
    : null;
}

/** NotFound is an ended lease; any other failure throws (the caller keeps the image). */
export function createLeaseLookup(
  client: Pick<Client, 'workflow' | 'connection'>,
  deadlineMs = LEASE_DESCRIBE_DEADLINE_MS,
): LeaseLookup {
  return async (leaseId) => {
    try {
      const d = await client.connection.withDeadline(Date.now() + deadlineMs, () =>
        client.workflow.getHandle(leaseWorkflowId(leaseId)).describe(),
      );
      return d.status.name === 'RUNNING'
        ? { state: 'live', lease: memoOf(d.memo) }
        : { state: 'ended', status: d.status.name };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { state: 'ended', status: 'NOT_FOUND' };
      throw err;
    }
  };
}
