// A Temporal client call made by an activity that the activity's own cancellation aborts. An
// update waits for the target workflow's worker for as long as it takes; without this, an
// activity waiting on one outlives its attempt, and a worker shutting down (which cancels its
// activities with WORKER_SHUTDOWN) waits for it forever: the budget workflow it waits on needs
// the very worker that is stopping.
import type { Client } from '@temporalio/client';
import { activityContext } from './activity-context.js';

export function untilCancelled<T>(client: Client, fn: () => Promise<T>): Promise<T> {
  const ctx = activityContext();
  return ctx ? client.withAbortSignal(ctx.cancellationSignal, fn) : fn();
}
