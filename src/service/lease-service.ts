// Leases as the API makes and ends them: a start of `lease:<leaseId>` whose
// workflowExecutionTimeout is the ttl, and a release signal. Nothing else: a lease costs one start,
// plus one signal when it is released before it expires.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type {
  LeaseGrant,
  LeaseMemo,
  LeaseReleaseSignal,
  LeaseWorkflowFunction,
} from '../contract/lease-types.js';
import { LEASE_DEFAULT_TTL_SECONDS } from '../contract/lease-types.js';
import { leaseReleaseSignal } from '../contract/messages.js';
import { LEASE_MEMO_KEY, WORKFLOW_TASK_QUEUE, WORKFLOW_TYPES, leaseWorkflowId } from '../contract/names.js';

export interface CreateLeaseInput {
  projectId: string;
  workItemId: string;
  ttlSeconds?: number;
}

/** What release found: `released` (it was live), `ended` (already over: a repeat), `unknown`. */
export type ReleaseOutcome = 'released' | 'ended' | 'unknown';

export interface LeaseService {
  create(input: CreateLeaseInput): Promise<LeaseGrant>;
  /**
   * Ends the lease. With `scope`, only when the lease is of that work item (the workflow ignores
   * the signal otherwise), which a registration uses.
   */
  release(
    leaseId: string,
    reason: string,
    scope?: { projectId: string; workItemId: string },
  ): Promise<ReleaseOutcome>;
}

export function createLeaseService({
  client,
  now = Date.now,
}: {
  client: Pick<Client, 'workflow'>;
  now?: () => number;
}): LeaseService {
  return {
    async create({ projectId, workItemId, ttlSeconds = LEASE_DEFAULT_TTL_SECONDS }) {
      const leaseId = randomUUID();
      // Taken before the start: the server's timeout starts a moment later, so the lease lives at
      // least until this time (a caller that trusts it never loses a live lease early).
      const expiresAt = new Date(now() + ttlSeconds * 1000).toISOString();
      const memo: LeaseMemo = { projectId, workItemId, expiresAt };
      await client.workflow.start<LeaseWorkflowFunction>(WORKFLOW_TYPES.lease, {
        workflowId: leaseWorkflowId(leaseId),
        taskQueue: WORKFLOW_TASK_QUEUE,
        args: [{ projectId, workItemId, ttlSeconds }],
        workflowExecutionTimeout: `${ttlSeconds} seconds`,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        memo: { [LEASE_MEMO_KEY]: memo },
        staticSummary: `Lease on commits of ${projectId}/${workItemId} until ${expiresAt}`,
      });
      return { leaseId, expiresAt };
    },

    async release(leaseId, reason, scope) {
      const handle = client.workflow.getHandle(leaseWorkflowId(leaseId));
      const signal: LeaseReleaseSignal = { reason, ...(scope ?? {}) };
      try {
        await handle.signal(leaseReleaseSignal, signal);
        return 'released';
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      // A signal to a closed run fails like one to no run at all: a describe tells them apart.
      try {
        await handle.describe();
        return 'ended';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 'unknown';
        throw err;
      }
    },
  };
}
