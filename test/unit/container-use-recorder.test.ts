// The recorder of container uses (src/worker/container-use-recorder.ts) against a scripted engine
// and a scripted Temporal client: which events become a `used` signal, scoped to which image, and
// how many signals a burst of containers costs. The real engine and server: container-uses.test.ts.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { SNAPSHOT_MEMO_KEY, managedLabels, snapshotWorkflowId } from '../../src/contract/names.js';
import type { SnapshotState } from '../../src/contract/snapshot-types.js';
import type { ContainerEvent } from '../../src/docker/container-events.js';
import type { DockerPort, ImageInfo } from '../../src/docker/docker-port.js';
import { createLogger } from '../../src/logging/logger.js';
import { ContainerUseRecorder } from '../../src/worker/container-use-recorder.js';

const INTERVAL = 60_000;
const T0 = Date.parse('2026-12-07T12:00:00.000Z');

function image(id: string, labels: Record<string, string>): ImageInfo {
  return {
    id,
    repoTags: [],
    labels,
    sizeBytes: 1,
    createdAt: new Date(0).toISOString(),
    parentId: '',
    repoDigests: [],
    comment: '',
    layers: 1,
  };
}

interface Signal {
  workflowId: string;
  runId: string | undefined;
  imageId: string;
  recordEveryMs: number | undefined;
}

/** One work item's workflow, as describe (memo) shows it, and the signals it got. */
class World {
  now = T0 + 10 * 60_000;
  readonly images = new Map<string, ImageInfo>();
  readonly containers = new Map<string, string>();
  readonly current = new Map<string, SnapshotState | null>();
  readonly signals: Signal[] = [];
  describes = 0;
  imageInspects = 0;
  failSignals = false;

  readonly docker = {
    inspectImage: async (ref: string) => {
      this.imageInspects++;
      return this.images.get(ref) ?? null;
    },
  } as unknown as DockerPort;

  readonly client = {
    workflow: {
      getHandle: (workflowId: string, runId?: string) => ({
        describe: async () => {
          this.describes++;
          if (!this.current.has(workflowId))
            throw new WorkflowNotFoundError('not found', workflowId, undefined);
          return {
            runId: 'run-1',
            status: { name: 'RUNNING' },
            memo: { [SNAPSHOT_MEMO_KEY]: { current: this.current.get(workflowId) } },
            raw: { pendingWorkflowTask: null },
          };
        },
        signal: async (_def: unknown, arg: { imageId: string; recordEveryMs?: number }) => {
          if (this.failSignals) throw new Error('server unavailable');
          this.signals.push({ workflowId, runId, imageId: arg.imageId, recordEveryMs: arg.recordEveryMs });
        },
      }),
    },
  } as unknown as Client;

  recorder(): ContainerUseRecorder {
    return new ContainerUseRecorder({
      client: this.client,
      docker: this.docker,
      containerImageId: async (id) => this.containers.get(id) ?? null,
      log: createLogger({ level: 'silent' }),
      hostId: 'h1',
      intervalMs: INTERVAL,
      now: () => this.now,
    });
  }

  /** A managed snapshot image, current in its work item's workflow, last used at `usedAt`. */
  snapshot(workItemId: string, imageId: string, usedAt = T0): string {
    this.images.set(imageId, image(imageId, managedLabels('p', workItemId)));
    const workflowId = snapshotWorkflowId('p', workItemId);
    this.current.set(workflowId, {
      imageId,
      lastUsedAt: new Date(usedAt).toISOString(),
      ttlSeconds: 86_400,
    } as SnapshotState);
    return workflowId;
  }
}

const event = (containerId: string, action: ContainerEvent['action'], ref = 'snap:1'): ContainerEvent => ({
  containerId,
  action,
  image: ref,
  time: 0,
});

describe('ContainerUseRecorder', () => {
  it("a container's create and start record one use, scoped to its image, to the run read", async () => {
    const w = new World();
    const workflowId = w.snapshot('w1', 'sha256:a');
    w.containers.set('c1', 'sha256:a');
    const r = w.recorder();
    expect(await r.record(event('c1', 'create'))).toBe('signalled');
    expect(await r.record(event('c1', 'start'))).toBe('coalesced');
    expect(w.signals).toEqual([{ workflowId, runId: 'run-1', imageId: 'sha256:a', recordEveryMs: INTERVAL }]);
  });

  it('at most one signal per image and interval, however many containers; the next interval records again', async () => {
    const w = new World();
    w.snapshot('w1', 'sha256:a');
    const r = w.recorder();
    for (let i = 0; i < 50; i++) {
      w.containers.set(`c${i}`, 'sha256:a');
      await r.record(event(`c${i}`, 'create'));
      await r.record(event(`c${i}`, 'start'));
    }
    expect(w.signals).toHaveLength(1);
    // Labels are read once per image; the workflow once per interval.
    expect(w.imageInspects).toBe(1);
    expect(w.describes).toBe(1);
    w.now += INTERVAL;
    w.containers.set('later', 'sha256:a');
    expect(await r.record(event('later', 'start'))).toBe('signalled');
    expect(w.signals).toHaveLength(2);
  });

  it('a use a lookup already recorded within the interval costs no signal', async () => {
    const w = new World();
    w.snapshot('w1', 'sha256:a', T0 + 10 * 60_000 - 5_000);
    w.containers.set('c1', 'sha256:a');
    expect(await w.recorder().record(event('c1', 'start'))).toBe('recorded-already');
    expect(w.signals).toEqual([]);
  });

  it('a container of a replaced image never touches the current one', async () => {
    const w = new World();
    w.snapshot('w1', 'sha256:new');
    w.images.set('sha256:old', image('sha256:old', managedLabels('p', 'w1')));
    w.containers.set('c1', 'sha256:old');
    expect(await w.recorder().record(event('c1', 'start'))).toBe('not-current');
    expect(w.signals).toEqual([]);
  });

  it('unmanaged images, work items without a workflow, and vanished containers record nothing', async () => {
    const w = new World();
    w.images.set('sha256:base', image('sha256:base', {}));
    w.images.set('sha256:orphan', image('sha256:orphan', managedLabels('p', 'gone')));
    w.containers.set('c1', 'sha256:base');
    w.containers.set('c2', 'sha256:orphan');
    const r = w.recorder();
    expect(await r.record(event('c1', 'start'))).toBe('unmanaged');
    expect(await r.record(event('c2', 'start'))).toBe('no-workflow');
    expect(await r.record(event('c3', 'start', 'nothing:here'))).toBe('gone');
    expect(w.signals).toEqual([]);
  });

  it('a container gone before its event is read: the reference it was created with names the image', async () => {
    const w = new World();
    w.snapshot('w1', 'sha256:a');
    w.images.set('snap:1', w.images.get('sha256:a') as ImageInfo);
    expect(await w.recorder().record(event('removed-already', 'create', 'snap:1'))).toBe('signalled');
    expect(w.signals.map((s) => s.imageId)).toEqual(['sha256:a']);
  });

  it('a signal that fails is not remembered: the next event tries again', async () => {
    const w = new World();
    w.snapshot('w1', 'sha256:a');
    w.containers.set('c1', 'sha256:a');
    const r = w.recorder();
    w.failSignals = true;
    expect(await r.record(event('c1', 'create'))).toBe('failed');
    w.failSignals = false;
    expect(await r.record(event('c1', 'start'))).toBe('signalled');
  });

  it('handle() records events one after the other, and idle() waits for them', async () => {
    const w = new World();
    w.snapshot('w1', 'sha256:a');
    w.containers.set('c1', 'sha256:a');
    const r = w.recorder();
    r.handle(event('c1', 'create'));
    r.handle(event('c1', 'start'));
    await r.idle();
    expect(w.signals).toHaveLength(1);
  });
});
