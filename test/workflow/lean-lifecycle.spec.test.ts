// The lean lifecycle (issue 19, patch lean-lifecycle): what a new run of the snapshot workflow
// writes to its history, counted event by event, and that such a run replays. The billable kinds
// counted here are those of bench/b7-history-cost.ts: search attribute upserts (the SDK's
// TemporalChangeVersion beside each patch marker among them), memo upserts, timers, activities.
// On Temporal's time-skipping test server, with scripted Docker activities, as the other specs.
import type { WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerTaskQueue } from '../../src/contract/names.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/contract/search-attribute-keys.js';
import { invalidateSignal, mergedSignal, usedSignal } from '../../src/contract/messages.js';
import { LEAN_LIFECYCLE_PATCH } from '../../src/workflows/shared/patches.js';
import { imageIdOf } from './support/fake-docker-hosts.js';
import { injectSpecContext } from './support/provided-context.js';
import { HOUR_MS, SnapshotDriver, newWorkItem } from './support/snapshot-driver.js';
import type { SpecEnvironment } from './support/spec-environment.js';
import { startSpecEnvironment } from './support/spec-environment.js';

const { temporal } = proto;
type History = proto.temporal.api.history.v1.IHistory;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

/** A host whose Docker worker this file starts and stops itself, to make it silent. */
const SILENT_HOST = 'silent-1';

let spec: SpecEnvironment;
let driver: SnapshotDriver;

beforeAll(async () => {
  spec = await startSpecEnvironment();
  driver = new SnapshotDriver(spec);
});

afterAll(async () => {
  await spec?.teardown();
});

/** What a history holds, by the kinds B7 bills, and the patch markers by id. */
interface Counted {
  markers: string[];
  changeVersionUpserts: number;
  attributeUpserts: number;
  memoUpserts: number;
  timers: number;
  activities: string[];
}

function count(history: History): Counted {
  const events: HistoryEvent[] = history.events ?? [];
  const counted: Counted = {
    markers: [],
    changeVersionUpserts: 0,
    attributeUpserts: 0,
    memoUpserts: 0,
    timers: 0,
    activities: [],
  };
  for (const e of events) {
    switch (e.eventType) {
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
        if (data) counted.markers.push((JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id);
        break;
      }
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
        if ('TemporalChangeVersion' in fields) counted.changeVersionUpserts++;
        else counted.attributeUpserts++;
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
        counted.memoUpserts++;
        break;
      case EventType.EVENT_TYPE_TIMER_STARTED:
        counted.timers++;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        counted.activities.push(e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?');
        break;
      default:
        break;
    }
  }
  return counted;
}

/** The Docker activities only (the budget's control activities depend on the scripted budget). */
function dockerSteps(c: Counted): string[] {
  return c.activities.filter((a) => a.endsWith('SnapshotImage') || a === 'invalidateSnapshot');
}

async function expectReplays(handle: WorkflowHandle, history: History): Promise<void> {
  const { workflowBundlePath } = injectSpecContext();
  await Worker.runReplayHistory({ workflowBundle: { codePath: workflowBundlePath } }, history, handle.workflowId);
}

async function snapshotStateAttribute(handle: WorkflowHandle): Promise<unknown> {
  return (await handle.describe()).typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.state);
}

describe('a new run of the snapshot workflow takes the lean lifecycle', () => {
  it('a TTL lifecycle with one recorded use: one patch marker, 3 memo upserts, 2 attribute upserts, 1 timer, and it replays', async () => {
    const id = newWorkItem('lean-ttl');
    const image = `snap/${id}:job-1`;
    const imageId = imageIdOf(image);
    const { handle } = await driver.startWith(id, { image, ttlSeconds: 3600 });
    // The lookup's use, as the API sends it past its recording interval.
    await spec.env.sleep(10 * 60_000);
    await handle.signal(usedSignal, { imageId, recordEveryMs: 60_000 });
    await driver.until(handle, 'the use recorded', (v) => v.current?.lastUsedAt !== v.current?.createdAt);
    await spec.env.sleep(2 * HOUR_MS);
    expect((await handle.result()).last).toMatchObject({ imageId, state: 'removed', endReason: 'expired' });

    const history = await handle.fetchHistory();
    const c = count(history);
    // Only the lean patch's marker: the deprecated patches record nothing in a new run.
    expect(c.markers).toEqual([LEAN_LIFECYCLE_PATCH]);
    expect(c.changeVersionUpserts).toBe(1);
    // The accepted image, the recorded use, the ending (no empty memo first).
    expect(c.memoUpserts).toBe(3);
    // active, then removed (no `invalidated` between them while the removal ran).
    expect(c.attributeUpserts).toBe(2);
    // The TTL only: no timer beside the cleanup step.
    expect(c.timers).toBe(1);
    expect(dockerSteps(c)).toEqual(['inspectSnapshotImage', 'retireSnapshotImage']);
    // The closed workflow shows where its image went.
    expect(await snapshotStateAttribute(handle)).toBe('removed');
    await expectReplays(handle, history);
  });

  it('a replacement publishes once in its task: the ended image and the accepted one make one memo and one attribute upsert', async () => {
    const id = newWorkItem('lean-replace');
    const first = `snap/${id}:job-1`;
    const second = `snap/${id}:job-2`;
    const { handle } = await driver.startWith(id, { image: first });
    const replaced = await driver.register(handle, { image: second });
    expect(replaced.outcome).toBe('replaced');
    await driver.until(handle, 'the replaced image removed', (v) => v.retiring.length === 0);
    await handle.signal(invalidateSignal, { reason: 'spec: lean replace' });
    expect((await handle.result()).last).toMatchObject({ imageId: imageIdOf(second), state: 'removed' });

    const history = await handle.fetchHistory();
    const c = count(history);
    expect(c.markers).toEqual([LEAN_LIFECYCLE_PATCH]);
    // job-1 accepted; job-2 accepted (job-1's ending in the same task); job-2 ended.
    expect(c.memoUpserts).toBe(3);
    // job-1 active; job-2 active; job-2 removed. job-1's removal shows nothing while job-2 is current.
    expect(c.attributeUpserts).toBe(3);
    // Each image's TTL; nothing beside the cleanup steps.
    expect(c.timers).toBe(2);
    expect(await snapshotStateAttribute(handle)).toBe('removed');
    await expectReplays(handle, history);
  });
});

describe('a lean run records no marker for a patch older than the lean lifecycle', () => {
  it('a registration linked to a pull request, then its merge: only the lean marker (no refused-registration-keeps-current)', async () => {
    const id = newWorkItem('lean-merge');
    const image = `snap/${id}:job-1`;
    const pullRequest = { repository: 'acme/app', number: 41 };
    const { handle } = await driver.startWith(id, { image, pullRequest });
    await handle.signal(mergedSignal, { pullRequest, deliveryId: `merge-${id}` });
    expect((await handle.result()).last).toMatchObject({
      imageId: imageIdOf(image),
      state: 'removed',
      endReason: 'merged',
    });

    const history = await handle.fetchHistory();
    const c = count(history);
    expect(c.markers).toEqual([LEAN_LIFECYCLE_PATCH]);
    expect(c.changeVersionUpserts).toBe(1);
    expect(c.memoUpserts).toBe(2);
    expect(c.attributeUpserts).toBe(2);
    await expectReplays(handle, history);
  });
});

describe('a cleanup step its host does not answer shows the wait, without a timer', () => {
  it("shows removal-blocked naming the host once the step waited the notice in the host's queue, and takes it back when the host answers", async () => {
    const startSilentHost = async () => {
      const worker = await Worker.create({
        connection: spec.env.nativeConnection,
        namespace: spec.env.namespace ?? 'default',
        taskQueue: dockerTaskQueue(SILENT_HOST),
        activities: spec.docker.activitiesFor(SILENT_HOST),
      });
      const running = worker.run();
      return async () => {
        worker.shutdown();
        await running;
      };
    };
    let stop: (() => Promise<void>) | undefined = await startSilentHost();
    try {
      const id = newWorkItem('lean-silent');
      const image = `snap/${id}:job-1`;
      const imageId = imageIdOf(image);
      const { handle } = await driver.startWith(
        id,
        { image, host: SILENT_HOST },
        { hostWaitNoticeSeconds: 2 },
      );
      await stop();
      stop = undefined;

      await handle.signal(invalidateSignal, { reason: 'spec: silent host' });
      const waiting = await driver.until(handle, 'the wait shown', (v) =>
        v.retiring.some((r) => r.imageId === imageId && r.state === 'removal-blocked'),
      );
      expect(waiting.retiring[0]?.blockedBy).toContain(
        `waiting for host ${SILENT_HOST}'s Docker worker (task queue ${dockerTaskQueue(SILENT_HOST)})`,
      );
      expect(await snapshotStateAttribute(handle)).toBe('removal-blocked');
      // Nothing reached the host meanwhile: the step waited in its queue.
      expect(spec.docker.storyOf(imageId)).toEqual(['inspectSnapshotImage']);

      stop = await startSilentHost();
      expect((await handle.result()).last).toMatchObject({ imageId, state: 'removed', blockedBy: null });
      const history = await handle.fetchHistory();
      const c = count(history);
      // The TTL only: the wait was noticed without a timer.
      expect(c.timers).toBe(1);
      // The first scheduling timed out in the queue; the second, without a limit, ran.
      expect(dockerSteps(c)).toEqual(['inspectSnapshotImage', 'retireSnapshotImage', 'retireSnapshotImage']);
      expect(await snapshotStateAttribute(handle)).toBe('removed');
      await expectReplays(handle, history);
    } finally {
      await stop?.();
    }
  });
});
