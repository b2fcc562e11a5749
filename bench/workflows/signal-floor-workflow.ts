// The trivial workflows of B1's floor: what a signal → workflow task → image removal costs on this
// server and engine with nothing of snapkeeper's in it. One waits for its signal and removes its
// image with an activity on a queue of its own (snapkeeper's shape: the Docker work runs on its
// host's queue); the other removes it with a local activity inside the same workflow task (the
// shape snapkeeper would have if its workflow tasks ran on the host's queue).
import {
  condition,
  defineSignal,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';
import { CLEANUP_ACTIVITY_PROFILE } from '../../src/workflows/shared/activity-profiles.js';
import type { RawRemoveActivities } from '../raw-remove-activities.js';
import { TIMER_DOCKER_TASK_QUEUE } from './ttl-timer-workflow.js';

export const goSignal = defineSignal('go');

export type FloorShape = 'activity' | 'local-activity';

// Same profile as snapkeeper's cleanup (and B2's floor), so a lost attempt costs both the same.
const remote = proxyActivities<RawRemoveActivities>({
  ...CLEANUP_ACTIVITY_PROFILE,
  taskQueue: TIMER_DOCKER_TASK_QUEUE,
});
// No heartbeat for a local activity: it runs inside the workflow task, bounded by its own timeout.
const local = proxyLocalActivities<RawRemoveActivities>({ startToCloseTimeout: '1 minute' });

/** Waits for `go`, then removes the image `imageId` in the given shape. */
export async function benchSignalWorkflow(imageId: string, shape: FloorShape): Promise<void> {
  let go = false;
  setHandler(goSignal, () => {
    go = true;
  });
  await condition(() => go);
  await (shape === 'local-activity' ? local : remote).rawRemoveImage(imageId);
}
