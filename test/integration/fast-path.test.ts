// The fast path of the snapshot workflow: lookups answered from the memo add nothing to history,
// cleanup takes one activity unless something blocks it, and registrations far from the host's
// budget limits tell the budget afterwards while the limit still holds.
import { randomUUID } from 'node:crypto';
import type { temporal } from '@temporalio/proto';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import { SNAPSHOT_MEMO_KEY, snapshotWorkflowId } from '../../src/contract/names.js';
import type { SnapshotMemo } from '../../src/contract/snapshot-types.js';
import { invalidateSignal, stateQuery } from '../../src/contract/messages.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage, runContainerFrom } from '../support/snapshot-images.js';
import { newDocker, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { startTestHost } from './reconcile-fixture.js';

const HOST = `fast-${randomUUID().slice(0, 8)}`;
const DEADLINE = { timeoutMs: 60_000 };

let worker: InProcessWorker;
let docker: Dockerode;
const hosts: TestHost[] = [];

beforeAll(async () => {
  docker = newDocker();
  worker = await startInProcessWorker({ hostId: HOST });
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  await worker?.stop();
});

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

async function events(workflowId: string, client = worker.client): Promise<HistoryEvent[]> {
  return (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

const scheduled = (history: HistoryEvent[]) =>
  history.flatMap((e) => {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    return name ? [name] : [];
  });

/** The history length once the workflow has nothing left to do (no task pending). */
async function settledLength(workflowId: string): Promise<number> {
  const handle = worker.client.workflow.getHandle(workflowId);
  let previous = -1;
  return waitFor(
    async () => {
      const d = await handle.describe();
      const length = d.historyLength;
      const settled = !d.raw.pendingWorkflowTask && (d.raw.pendingActivities ?? []).length === 0;
      const stable = settled && length === previous;
      previous = length;
      return stable ? length : undefined;
    },
    { ...DEADLINE, intervalMs: 200, message: `${workflowId} never settled` },
  );
}

/** An API process of its own whose lookups record a use at most every `intervalMs`. */
const recordingEvery = (intervalMs: number) =>
  createSnapshotService({
    client: worker.client,
    defaultTtlSeconds: 3600,
    lookupRecordIntervalMs: intervalMs,
  });

describe('lookups', () => {
  it('add nothing to the history, whatever their number, within the recording interval', async () => {
    const ids = uniqueIds('reads');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    await worker.service.register({ ...ids, image: img.image, host: HOST, slidingTtl: true });
    const workflowId = snapshotWorkflowId(ids.projectId, ids.workItemId);
    const before = await settledLength(workflowId);
    for (let i = 0; i < 60; i++) {
      expect((await worker.service.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(img.imageId);
    }
    expect(await settledLength(workflowId)).toBe(before);
    await worker.service.invalidate(ids.projectId, ids.workItemId, 'done');
    await waitFor(async () => !(await imageExists(docker, img.imageId)), {
      ...DEADLINE,
      message: 'not removed',
    });
  });

  it('record a use at most once per interval: history grows with time, not with reads', async () => {
    const service = recordingEvery(1000);
    const ids = uniqueIds('interval');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const registered = await service.register({ ...ids, image: img.image, host: HOST, slidingTtl: true });
    const workflowId = snapshotWorkflowId(ids.projectId, ids.workItemId);
    const before = await settledLength(workflowId);
    const started = Date.now();
    let reads = 0;
    let last = registered.snapshot;
    // Concurrent readers, as several API replicas would be, for a little over two intervals.
    while (Date.now() - started < 2500) {
      const seen = await Promise.all([0, 1, 2, 3].map(() => service.lookup(ids.projectId, ids.workItemId)));
      reads += seen.length;
      last = seen[seen.length - 1] ?? last;
    }
    const after = await settledLength(workflowId);
    const touches = recordedUses(await events(workflowId));
    // A recorded use costs a handful of events (the signal, a task, the memo, the re-armed TTL
    // timer); one per interval elapsed since the registration, however many readers raced for it.
    expect(touches).toBeGreaterThanOrEqual(1);
    expect(touches).toBeLessThanOrEqual(intervalsSince(registered.snapshot.lastUsedAt, 1000));
    expect(after - before).toBeLessThanOrEqual(touches * 10);
    expect(reads).toBeGreaterThan(touches * 4);
    expect(Date.parse(last?.expiresAt ?? '')).toBeGreaterThan(Date.parse(registered.snapshot.expiresAt));
    await service.invalidate(ids.projectId, ids.workItemId, 'done');
  });

  it('record a use far from the expiry with a signal, and near it with an update the workflow orders against its timer', async () => {
    const service = recordingEvery(200);
    const far = uniqueIds('use-far');
    const near = uniqueIds('use-near');
    const farImg = await makeSnapshotImage(docker, { ...far, labels: 'managed' });
    const nearImg = await makeSnapshotImage(docker, { ...near, labels: 'managed' });
    const farReg = await service.register({ ...far, image: farImg.image, host: HOST, slidingTtl: true });
    // Expiring within USE_BY_UPDATE_WITHIN_MS from the start.
    const nearReg = await service.register({ ...near, image: nearImg.image, host: HOST, ttlSeconds: 9 });
    // Both uses due (past the 200 ms interval), the near one still well before its expiry.
    await waitFor(async () => Date.now() - Date.parse(nearReg.snapshot.lastUsedAt) > 500, {
      timeoutMs: 5000,
      message: 'clock',
    });
    const farWorkflow = snapshotWorkflowId(far.projectId, far.workItemId);
    const nearWorkflow = snapshotWorkflowId(near.projectId, near.workItemId);
    const offered = await service.lookup(far.projectId, far.workItemId);
    expect(offered?.imageId).toBe(farImg.imageId);
    // Looked up first: its image expires seconds from now.
    expect((await service.lookup(near.projectId, near.workItemId))?.imageId).toBe(nearImg.imageId);
    expect(Date.parse(offered?.expiresAt ?? '')).toBeGreaterThan(Date.parse(farReg.snapshot.expiresAt));
    // The signal is durable when the lookup answers; the workflow records the use at its next task.
    const farHistory = await events(farWorkflow);
    expect(usedSignals(farHistory)).toBe(1);
    expect(touchUpdates(farHistory)).toBe(0);
    const recorded = await waitFor(
      async () => {
        const current = (await service.handle(far.projectId, far.workItemId).query(stateQuery)).current;
        return current && current.lastUsedAt !== farReg.snapshot.lastUsedAt ? current : undefined;
      },
      { ...DEADLINE, message: 'the signalled use was never recorded' },
    );
    expect(Date.parse(recorded.expiresAt)).toBeGreaterThanOrEqual(Date.parse(offered?.expiresAt ?? ''));
    const nearHistory = await events(nearWorkflow);
    expect(touchUpdates(nearHistory)).toBe(1);
    expect(usedSignals(nearHistory)).toBe(0);
    for (const [ids, img] of [
      [far, farImg],
      [near, nearImg],
    ] as const) {
      await service.invalidate(ids.projectId, ids.workItemId, 'done');
      await waitFor(async () => !(await imageExists(docker, img.imageId)), {
        ...DEADLINE,
        message: 'not removed',
      });
    }
  });

  it('record a use once per interval however many API processes race for it', async () => {
    const replicas = [0, 1, 2].map(() => recordingEvery(1000));
    const ids = uniqueIds('replicas');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const registered = await worker.service.register({
      ...ids,
      image: img.image,
      host: HOST,
      slidingTtl: true,
    });
    const workflowId = snapshotWorkflowId(ids.projectId, ids.workItemId);
    let reads = 0;
    const started = Date.now();
    while (Date.now() - started < 2500) {
      const seen = await Promise.all(
        replicas.flatMap((r) => [r, r].map((service) => service.lookup(ids.projectId, ids.workItemId))),
      );
      for (const s of seen) expect(s?.imageId).toBe(img.imageId);
      reads += seen.length;
    }
    await settledLength(workflowId);
    const intervals = intervalsSince(registered.snapshot.lastUsedAt, 1000);
    const history = await events(workflowId);
    // More reads than intervals: what grows the history is time, not reads.
    expect(reads).toBeGreaterThan(intervals);
    // Each process signals once per interval at most; the workflow records the first of each race.
    expect(usedSignals(history)).toBeLessThanOrEqual(replicas.length * intervals);
    const memoUses = new Set(
      history.flatMap((e) => {
        const memo = e.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.[SNAPSHOT_MEMO_KEY];
        if (!memo?.data) return [];
        const { current } = JSON.parse(Buffer.from(memo.data).toString('utf8')) as SnapshotMemo;
        return current ? [current.lastUsedAt] : [];
      }),
    );
    memoUses.delete(registered.snapshot.lastUsedAt);
    // One recorded use per elapsed interval at most, whatever the number of readers.
    expect(memoUses.size).toBeGreaterThanOrEqual(1);
    expect(memoUses.size).toBeLessThanOrEqual(intervals);
    const current = (await worker.service.handle(ids.projectId, ids.workItemId).query(stateQuery)).current;
    expect(Date.parse(current?.expiresAt ?? '')).toBeGreaterThan(Date.parse(registered.snapshot.expiresAt));
    await worker.service.invalidate(ids.projectId, ids.workItemId, 'done');
    await waitFor(async () => !(await imageExists(docker, img.imageId)), {
      ...DEADLINE,
      message: 'not removed',
    });
  });

  it('never offer an image whose invalidation the workflow has already received', async () => {
    const ids = uniqueIds('after-signal');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    await worker.service.register({ ...ids, image: img.image, host: HOST });
    const handle = worker.service.handle(ids.projectId, ids.workItemId);
    await handle.signal(invalidateSignal, { reason: 'read right after' });
    // The memo may not show the signal yet; the pending task sends the lookup to the workflow.
    expect(await worker.service.lookup(ids.projectId, ids.workItemId)).toBeNull();
    await waitFor(async () => !(await imageExists(docker, img.imageId)), {
      ...DEADLINE,
      message: 'not removed',
    });
  });
});

/**
 * How many recording intervals fit since `since` (a workflow-clock time): the most uses a workflow
 * can record, each at least an interval after the one before.
 */
function intervalsSince(since: string, intervalMs: number): number {
  return Math.floor((Date.now() - Date.parse(since)) / intervalMs);
}

/** The lookups that asked the workflow to record a use: touch updates and `used` signals. */
function recordedUses(history: HistoryEvent[]): number {
  return touchUpdates(history) + usedSignals(history);
}

function touchUpdates(history: HistoryEvent[]): number {
  return history.filter(
    (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'touch',
  ).length;
}

function usedSignals(history: HistoryEvent[]): number {
  return history.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'used').length;
}

describe('cleanup', () => {
  it('takes one activity when nothing blocks it', async () => {
    const ids = uniqueIds('one-hop');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    await worker.service.register({ ...ids, image: img.image, host: HOST });
    await worker.service.invalidate(ids.projectId, ids.workItemId, 'merged, say');
    const handle = worker.service.handle(ids.projectId, ids.workItemId);
    expect((await handle.result()).last).toMatchObject({ imageId: img.imageId, state: 'removed' });
    expect(await imageExists(docker, img.imageId)).toBe(false);
    const steps = scheduled(await events(handle.workflowId)).filter((n) => n !== 'inspectSnapshotImage');
    expect(steps.filter((n) => n !== 'admitToBudget')).toEqual(['retireSnapshotImage']);
  });

  it('blocked by a container, goes on step by step, shows removal-blocked, and removes once it goes', async () => {
    const ids = uniqueIds('blocked-hop');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    await worker.service.register({ ...ids, image: img.image, host: HOST });
    const container = await runContainerFrom(docker, img.image);
    const handle = worker.service.handle(ids.projectId, ids.workItemId);
    try {
      await worker.service.invalidate(ids.projectId, ids.workItemId, 'blocked');
      await waitFor(async () => (await handle.query(stateQuery)).retiring[0]?.state === 'removal-blocked', {
        ...DEADLINE,
        message: 'never showed removal-blocked',
      });
      const blocked = (await handle.query(stateQuery)).retiring[0];
      expect(blocked?.blockedBy).toContain(container.id.slice(0, 12));
      // Still here, untagged from its reuse reference, never forced.
      expect(await imageExists(docker, img.imageId)).toBe(true);
      expect(await imageExists(docker, img.image)).toBe(false);
    } finally {
      await container.stop();
    }
    expect((await handle.result()).last).toMatchObject({ imageId: img.imageId, state: 'removed' });
    expect(await imageExists(docker, img.imageId)).toBe(false);
    const steps = scheduled(await events(handle.workflowId));
    expect(steps.filter((n) => n === 'retireSnapshotImage')).toHaveLength(1);
    expect(steps.filter((n) => n === 'removeSnapshotImage').length).toBeGreaterThanOrEqual(1);
    expect(steps).not.toContain('invalidateSnapshot');
  });
});

describe('budget admission', () => {
  it('far from the limit a registration signals the budget; near it, it waits; the limit holds', async () => {
    const h = await startTestHost({
      name: 'fast-budget',
      privateEngine: false,
      env: { SNAPKEEPER_MAX_SNAPSHOTS: '4' },
    });
    hosts.push(h);
    const snaps = [];
    for (let i = 0; i < 5; i++) {
      const ids = uniqueIds(`fast-budget-${i}`);
      const img = await makeSnapshotImage(h.docker, { ...ids, labels: 'managed' });
      await h.service.register({ ...ids, image: img.image, host: h.hostId });
      snaps.push({ ids, img, workflowId: snapshotWorkflowId(ids.projectId, ids.workItemId) });
    }
    const [first, second, , , fifth] = snaps;
    // The first starts the budget and waits for it; the second is far from 4 (2 of 4 < 90%).
    expect(scheduled(await events(first!.workflowId, h.client))).toContain('admitToBudget');
    const secondHistory = await events(second!.workflowId, h.client);
    expect(scheduled(secondHistory)).not.toContain('admitToBudget');
    expect(
      secondHistory.some(
        (e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === 'admitted',
      ),
    ).toBe(true);
    // The fifth crosses the limit: the least recently used (the first) is evicted and leaves.
    expect(scheduled(await events(fifth!.workflowId, h.client))).toContain('admitToBudget');
    await waitFor(async () => !(await imageExists(h.docker, first!.img.imageId)), {
      ...DEADLINE,
      message: 'the least recently used snapshot was not evicted',
    });
    const views = await Promise.all(
      snaps.map((s) => h.client.workflow.getHandle(s.workflowId).query(stateQuery)),
    );
    expect(views.filter((v) => v.current !== null)).toHaveLength(4);
    expect(views[0]?.last?.endReason).toBe('evicted');
    const budget = await h.budget();
    expect(budget?.totals.count).toBe(4);
  });
});
