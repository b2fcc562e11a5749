// The trivial workflow of B2's baseline: a durable timer to one instant (as a TTL is), then one
// activity on a queue of its own that removes one image, and nothing of snapkeeper's in between.
import { proxyActivities, sleep } from '@temporalio/workflow';
import { CLEANUP_ACTIVITY_PROFILE } from '../../src/workflows/shared/activity-profiles.js';
import type { RawRemoveActivities } from '../raw-remove-activities.js';

export const TIMER_TASK_QUEUE = 'bench-timer';
/** The activity's own queue, as snapkeeper's cleanup runs on its host's queue, not the workflow's. */
export const TIMER_DOCKER_TASK_QUEUE = 'bench-timer-docker';

// snapkeeper's cleanup profile, so that a lost attempt costs both the same time. The remove does
// not heartbeat (that would be a call snapkeeper's floor need not make); one call ends well within
// the heartbeat timeout, and a retry of it finds the image gone (404), which is success.
const { rawRemoveImage } = proxyActivities<RawRemoveActivities>({
  ...CLEANUP_ACTIVITY_PROFILE,
  taskQueue: TIMER_DOCKER_TASK_QUEUE,
});

/** Sleeps until `wakeAtMs` (epoch ms, the workflow's clock), then removes the image `imageId`. */
export async function benchTimerWorkflow(imageId: string, wakeAtMs: number): Promise<void> {
  // A timer must be positive; a start that arrives late fires at once.
  await sleep(Math.max(wakeAtMs - Date.now(), 1));
  await rawRemoveImage(imageId);
}
