// Temporal client calls made by an activity that the activity's own cancellation aborts. An update
// waits for the target workflow's worker for as long as it takes; without this, an activity waiting
// on one outlives its attempt, and a worker shutting down (which cancels its activities with
// WORKER_SHUTDOWN) waits for it forever: the budget workflow it waits on needs the very worker that
// is stopping. Every control activity is wrapped (createControlActivities), so none depends on
// its author remembering this around the one call that happens to wait.
import { setMaxListeners } from 'node:events';
import type { Client } from '@temporalio/client';
import { activityContext } from './activity-context.js';

/**
 * Runs `fn` so that the running activity's cancellation aborts every client call `fn` makes, and
 * ends `fn`'s activity at once with the activity's CancelledFailure (reported as cancelled, not as
 * a gRPC error). Outside an activity, or without a client, it just runs `fn`.
 *
 * The client's scope is an AsyncLocalStorage store (Connection.withAbortSignal in
 * @temporalio/client), so activities running at the same time do not see each other's signal.
 */
export async function untilCancelled<T>(client: Client | undefined, fn: () => Promise<T>): Promise<T> {
  const ctx = activityContext();
  if (!ctx || !client) return fn();
  const cancellation = ctx.cancellationSignal;
  // The SDK cancels a call from an 'abort' listener, which never fires for a signal already
  // aborted when the call starts.
  cancellation.throwIfAborted();
  // Each call adds an 'abort' listener the SDK never removes: a scan's thousands of queries would
  // trip Node's leak warning on the activity's own signal. They go with this one when it ends.
  const scope = new AbortController();
  setMaxListeners(0, scope.signal);
  const abort = () => scope.abort(cancellation.reason);
  cancellation.addEventListener('abort', abort, { once: true });
  try {
    // The race ends the activity even when `fn` carries on after a call it started was aborted
    // (a caught error, the next item of a fan-out): a call begun after the abort is not aborted.
    return await client.withAbortSignal(scope.signal, () => Promise.race([fn(), ctx.cancelled]));
  } finally {
    cancellation.removeEventListener('abort', abort);
  }
}

/**
 * Throws the running activity's CancelledFailure once it is cancelled: for a body that catches a
 * call's error and goes on (a fan-out's next item, a best-effort step), whose next call would
 * start after the abort and so not be aborted.
 */
export function throwIfCancelled(): void {
  activityContext()?.cancellationSignal.throwIfAborted();
}

type AsyncFunctions = Record<string, (...args: never[]) => Promise<unknown>>;

/** The same activities, each one's client calls aborted by its cancellation (see untilCancelled). */
export function untilCancelledEach<T extends AsyncFunctions>(client: Client | undefined, activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = (...args: never[]) => untilCancelled(client, () => fn(...args));
  }
  return wrapped as T;
}
