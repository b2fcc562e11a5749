// Long activities report that they are alive, so that a worker which dies in the middle of one is
// noticed within the activity's heartbeat timeout (seconds) instead of its start-to-close timeout
// (minutes), during which a skip-overlap schedule would start no new reconcile run.
import { activityContext } from './activity-context.js';

/** What the workflows give every upkeep activity: a dead worker's attempt is retried after this. */
export const UPKEEP_HEARTBEAT_TIMEOUT = '15 seconds';

const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Runs `fn`, heartbeating every few seconds while it runs when the activity has a heartbeat
 * timeout. A timer, rather than calls sprinkled through the work, also covers the waits on Temporal
 * and Docker, which make up most of a long activity.
 */
export async function whileHeartbeating<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = activityContext();
  if (!ctx?.info.heartbeatTimeoutMs) return fn();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

type AsyncFunctions = Record<string, (...args: never[]) => Promise<unknown>>;

/** The same activities, each one heartbeating while it runs (see whileHeartbeating). */
export function heartbeating<T extends AsyncFunctions>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = (...args: never[]) => whileHeartbeating(() => fn(...args));
  }
  return wrapped as T;
}
