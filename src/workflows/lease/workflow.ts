// A lease: protects a commit in flight from the reconciler until its registration. The lease IS
// this workflow running: it ends by its workflowExecutionTimeout (the ttl, set by the starter) or
// by the release signal, so a lease costs a start, and a signal when released early; no timer, no
// activity, no update. It needs no worker to stay alive: a running execution is a live lease
// whether or not a worker ever runs its task.
import { condition, setHandler } from '@temporalio/workflow';
import type { LeaseResult, LeaseWorkflowInput } from '../../contract/lease-types.js';
import { leaseReleaseSignal } from '../../contract/messages.js';

export type { LeaseResult, LeaseWorkflowInput } from '../../contract/lease-types.js';

export async function leaseWorkflow(input: LeaseWorkflowInput): Promise<LeaseResult> {
  let released: LeaseResult | undefined;
  setHandler(leaseReleaseSignal, (signal) => {
    // A release that names a work item (a registration carrying the lease id) ends only a lease
    // of that work item: a wrong id sent with a registration must not end someone else's lease.
    const scoped = signal.projectId !== undefined || signal.workItemId !== undefined;
    if (scoped && (signal.projectId !== input.projectId || signal.workItemId !== input.workItemId)) return;
    released ??= { releasedAt: new Date(Date.now()).toISOString(), reason: signal.reason };
  });
  await condition(() => released !== undefined);
  return released as LeaseResult;
}
