// A Docker worker killed (SIGKILL) in the middle of a reconcile activity must not stall upkeep: the
// activity's heartbeat stops, its attempt times out in seconds, another worker of the host retries
// it, and the host's schedule goes on reaping within about one interval.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { reconcileScheduleId } from '../../src/contract/names.js';
import { commitManyImages } from '../support/many-images.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { testEnv } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { WorkerProcess } from '../support/worker-process.js';
import { startWorkerProcess } from '../support/worker-process.js';
import type { TestHost } from './reconcile-fixture.js';
import { startTestHost } from './reconcile-fixture.js';

const INTERVAL_SECONDS = 30;
const ORPHANS = 400;
const HOST_ACTIVITIES = new Set([
  'listManagedImagesPage',
  'fenceOrphanImages',
  'unfenceImages',
  'removeOrphanImages',
  'findMissingImages',
  'workflowsWithoutImages',
]);
const { PENDING_ACTIVITY_STATE_STARTED } = temporal.api.enums.v1.PendingActivityState;
const { TIMEOUT_TYPE_HEARTBEAT } = temporal.api.enums.v1.TimeoutType;

let host: TestHost;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  // This process runs workflows only: the host's Docker activities run in the worker processes.
  host = await startTestHost({ name: 'kill', env: { SNAPKEEPER_WORKER_ROLES: 'workflow' } });
});

afterAll(async () => {
  for (const w of workers) await w.stop().catch(() => undefined);
  await host?.client.schedule
    .getHandle(reconcileScheduleId(host.hostId))
    .delete()
    .catch(() => undefined);
  await host?.stop();
});

function dockerWorker(): Promise<WorkerProcess> {
  return startWorkerProcess({
    env: {
      TEMPORAL_ADDRESS: testEnv().temporalAddress,
      DOCKER_HOST: host.dockerHost,
      SNAPKEEPER_HOST_ID: host.hostId,
      SNAPKEEPER_WORKER_ROLES: 'docker',
      SNAPKEEPER_RECONCILE_INTERVAL: `${INTERVAL_SECONDS}s`,
      SNAPKEEPER_ORPHAN_GRACE: '1s',
      SNAPKEEPER_MIN_ORPHAN_GRACE: '1s',
    },
  }).then(async (w) => {
    workers.push(w);
    await w.waitReady();
    return w;
  });
}

describe('reconcile: a Docker worker killed mid-activity', () => {
  it('does not stall upkeep: the attempt times out on its heartbeat, and the next run reaps within about one interval', async () => {
    const run = randomBytes(3).toString('hex');
    const orphans = await commitManyImages(host.docker, {
      count: ORPHANS,
      idsOf: (n) => ({ projectId: `kill-${run}`, workItemId: `orphan-${n}` }),
      repository: `snapkeeper-test/kill-${run}`,
    });
    const first = await dockerWorker();
    const schedule = host.client.schedule.getHandle(reconcileScheduleId(host.hostId));
    await schedule.trigger();

    // Catch a run with one of the host's activities started on the first worker, and kill it.
    const caught = await waitFor(
      async () => {
        // The triggered run may be missing from runningActions while it runs (the server's
        // scheduler refreshes that list lazily; seen on the dev server of CLI v1.5.1), so the
        // recent actions are looked at too: a closed run simply shows no pending activity.
        const { runningActions, recentActions } = (await schedule.describe()).info;
        const parents = new Set([
          ...runningActions.map((a) => a.workflow.workflowId),
          ...recentActions.map((a) => a.action.workflow.workflowId),
        ]);
        for (const parent of parents) {
          const childId = `${parent}/${host.hostId}`;
          const description = await host.client.workflow
            .getHandle(childId)
            .describe()
            .catch(() => undefined);
          const started = description?.raw.pendingActivities?.find(
            (a) =>
              a.state === PENDING_ACTIVITY_STATE_STARTED && HOST_ACTIVITIES.has(a.activityType?.name ?? ''),
          );
          if (started) return { childId, activityId: started.activityId, type: started.activityType?.name };
        }
        return undefined;
      },
      { timeoutMs: 120_000, intervalMs: 50, message: 'no reconcile activity was seen running on the worker' },
    );
    await first.kill9();
    const killedAt = Date.now();

    await dockerWorker();
    const late = await makeSnapshotImage(host.docker, {
      projectId: `kill-${run}`,
      workItemId: 'late',
      labels: 'managed',
    });

    // The killed run finishes on the second worker once the attempt's heartbeat timed out...
    await waitFor(
      async () =>
        (await host.client.workflow.getHandle(caught.childId).describe()).status.name === 'COMPLETED',
      { timeoutMs: 120_000, intervalMs: 500, message: `the killed run ${caught.childId} did not finish` },
    );
    const runDoneSeconds = (Date.now() - killedAt) / 1000;
    const history = await host.client.workflow.getHandle(caught.childId).fetchHistory();
    const retried = (history.events ?? []).some((e) => {
      const started = e.activityTaskStartedEventAttributes;
      return (
        started !== null &&
        started !== undefined &&
        (started.attempt ?? 0) >= 2 &&
        started.lastFailure?.timeoutFailureInfo?.timeoutType === TIMEOUT_TYPE_HEARTBEAT
      );
    });
    // The activity seen running may still finish in the moment between that look and the kill (a
    // quiet machine makes these activities short); then its first attempt completed and there is
    // no heartbeat timeout to see, but the promise below (upkeep goes on) must hold all the same.
    const events = history.events ?? [];
    const scheduled = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityId === caught.activityId,
    );
    const startedOfCaught = events.find(
      (e) =>
        scheduled?.eventId != null &&
        String(e.activityTaskStartedEventAttributes?.scheduledEventId ?? '') === String(scheduled.eventId),
    );
    const finishedBeforeTheKill = (startedOfCaught?.activityTaskStartedEventAttributes?.attempt ?? 2) < 2;
    if (finishedBeforeTheKill) {
      console.warn(
        `${caught.type} ${caught.activityId} finished before the kill; no heartbeat timeout to check`,
      );
    } else {
      expect(retried).toBe(true);
    }
    // ...long before the activity's start-to-close timeout (5 minutes) would have let it go.
    expect(runDoneSeconds).toBeLessThan(90);

    // ...and upkeep goes on: every orphan, including one made after the kill, is reaped within
    // about one interval of the kill (plus the heartbeat timeout).
    await waitFor(
      async () => {
        for (const o of [...orphans, { imageId: late.imageId }])
          if (await imageExists(host.docker, o.imageId)) return false;
        return true;
      },
      {
        timeoutMs: (2 * INTERVAL_SECONDS + 60) * 1000,
        intervalMs: 1000,
        message: 'orphans were not reaped after the worker was killed',
      },
    );
    const reapedSeconds = (Date.now() - killedAt) / 1000;
    expect(reapedSeconds).toBeLessThan(INTERVAL_SECONDS + 15 + 45);
    console.info(
      `killed during ${caught.type}; the killed run finished ${runDoneSeconds.toFixed(1)} s after the kill; ` +
        `every orphan gone ${reapedSeconds.toFixed(1)} s after it (interval ${INTERVAL_SECONDS} s, heartbeat timeout 15 s)`,
    );
  }, 600_000);
});
