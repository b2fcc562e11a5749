// Real last use (issue 21): a container created or started from a snapshot image records a use of
// that snapshot from the engine's event stream, without any lookup; the LRU of the budget then
// spares the image a job has just run on. On a private engine (a use is a signal to a workflow:
// another file's containers must never reach this file's workflows, and the other way round).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateQuery } from '../../src/contract/messages.js';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import type { SnapshotWorkflowView } from '../../src/contract/snapshot-types.js';
import { createDockerPort } from '../../src/docker/dockerode-adapter.js';
import { createLogger } from '../../src/logging/logger.js';
import type { ContainerUseRecording } from '../../src/worker/container-use-recorder.js';
import { recordContainerUses } from '../../src/worker/container-use-recorder.js';
import { removeContainerById } from '../support/containers.js';
import { startDockerEngine } from '../support/docker-engine.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { startTestHost } from './reconcile-fixture.js';

const exec = promisify(execFile);
const DEADLINE = { timeoutMs: 60_000 };
/** The recorder's interval here: short, so the tests need not wait long for a use to be due. */
const INTERVAL_MS = 3_000;

let h: TestHost;
let recording: ContainerUseRecording | undefined;

beforeAll(async () => {
  // Lookups are not part of these tests; the budget keeps two snapshots, so a third evicts one.
  h = await startTestHost({ name: 'uses', env: { SNAPKEEPER_MAX_SNAPSHOTS: '2' } });
});

afterAll(async () => {
  await recording?.stop();
  await h?.stop();
});

async function startRecording(): Promise<ContainerUseRecording> {
  recording = recordContainerUses({
    dockerode: h.docker,
    docker: createDockerPort(h.docker),
    client: h.client,
    log: createLogger({ level: process.env.SNAPKEEPER_TEST_LOG_LEVEL ?? 'warn' }),
    hostId: h.hostId,
    intervalMs: INTERVAL_MS,
    metrics: h.metrics,
  });
  // Events from before the stream is open are not seen: the jobs below start after it.
  await recording.watch.ready;
  return recording;
}

interface Snap {
  ids: { projectId: string; workItemId: string };
  image: string;
  imageId: string;
  workflowId: string;
}

async function snapshot(name: string, ids = uniqueIds(name)): Promise<Snap> {
  const img = await makeSnapshotImage(h.docker, { ...ids, labels: 'managed' });
  return { ids, ...img, workflowId: snapshotWorkflowId(ids.projectId, ids.workItemId) };
}

async function register(s: Snap) {
  return h.service.register({ ...s.ids, image: s.image, host: h.hostId });
}

async function view(s: Snap): Promise<SnapshotWorkflowView> {
  return h.client.workflow.getHandle(s.workflowId).query(stateQuery);
}

async function lastUsed(s: Snap): Promise<number> {
  const current = (await view(s)).current;
  if (current?.imageId !== s.imageId) throw new Error(`${s.workflowId} no longer holds ${s.imageId}`);
  return Date.parse(current.lastUsedAt);
}

/** A job: a container from the image runs to its end and is removed (create, start, die, destroy). */
async function runJob(image: string): Promise<string> {
  const container = await h.docker.createContainer({
    Image: image,
    Cmd: ['true'],
    HostConfig: { NetworkMode: 'none' },
  });
  await container.start();
  await container.wait();
  await container.remove();
  return container.id;
}

/** Until the recorder's interval has passed since the snapshot's last recorded use. */
async function useDue(s: Snap): Promise<void> {
  const since = await lastUsed(s);
  await waitFor(async () => Date.now() - since > INTERVAL_MS, {
    ...DEADLINE,
    message: 'the recording interval did not pass',
  });
}

async function usedSignals(s: Snap): Promise<number> {
  const history = await h.client.workflow.getHandle(s.workflowId).fetchHistory();
  return (history.events ?? []).filter(
    (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'used',
  ).length;
}

async function metric(outcome: string): Promise<number> {
  const text = await h.metrics.registry.metrics();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`snapkeeper_container_uses_total{host="${h.hostId}",outcome="${outcome}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function expectEvicted(s: Snap) {
  await waitFor(async () => (await view(s)).last?.endReason === 'evicted', {
    ...DEADLINE,
    message: `${s.workflowId} was not evicted`,
  });
  await waitFor(async () => !(await imageExists(h.docker, s.imageId)), {
    ...DEADLINE,
    message: `evicted image ${s.imageId} still on the engine`,
  });
}

async function expectActive(s: Snap) {
  expect((await view(s)).current?.imageId, `${s.workflowId} should still be active`).toBe(s.imageId);
  expect(await imageExists(h.docker, s.imageId)).toBe(true);
}

// In order: the first test runs before any recorder follows the engine (the control), the later
// ones with it.
describe('real last use from the engine events', () => {
  let y: Snap;
  let z: Snap;

  it('without the recorder, a job run on the least recently used snapshot does not save it', async () => {
    const x = await snapshot('uses-x');
    y = await snapshot('uses-y');
    await register(x);
    await register(y);
    await useDue(x);
    const before = await lastUsed(x);
    await runJob(x.image);
    expect(await lastUsed(x)).toBe(before);

    z = await snapshot('uses-z');
    await register(z);
    // x was the least recently used: the job on it counted for nothing.
    await expectEvicted(x);
    await expectActive(y);
    await expectActive(z);
  });

  it('a container started from a snapshot moves its lastUsedAt, and changes who is evicted', async () => {
    await startRecording();
    // y is now the least recently used of the two (registered before z).
    expect(await lastUsed(y)).toBeLessThan(await lastUsed(z));
    await useDue(y);
    const before = await lastUsed(y);
    const signalled = await metric('signalled');
    await runJob(y.image);
    const after = await waitFor(
      async () => {
        const t = await lastUsed(y);
        return t > before ? t : undefined;
      },
      { ...DEADLINE, message: `the job on ${y.imageId} did not move its lastUsedAt` },
    );
    expect(after).toBeGreaterThan(await lastUsed(z));
    expect(await metric('signalled')).toBe(signalled + 1);

    const w = await snapshot('uses-w');
    await register(w);
    // The job made y the most recent: z goes in its place.
    await expectEvicted(z);
    await expectActive(y);
    await expectActive(w);
  });

  it('costs at most one signal per image and interval, however many containers start', async () => {
    const s = await snapshot('uses-coalesce');
    await register(s);
    await useDue(s);
    const signalsBefore = await usedSignals(s);
    const seen = async () =>
      (await metric('signalled')) + (await metric('coalesced')) + (await metric('recorded-already'));
    const seenBefore = await seen();
    const started = Date.now();
    // Three jobs at once: six events (create, start) of one image.
    await Promise.all([0, 1, 2].map(() => runJob(s.image)));
    await waitFor(async () => (await seen()) >= seenBefore + 6, {
      ...DEADLINE,
      message: 'the six events of the three jobs were not all recorded',
    });
    const elapsed = Date.now() - started;
    const signals = (await usedSignals(s)) - signalsBefore;
    expect(signals).toBeGreaterThanOrEqual(1);
    // One per interval begun (one, unless this machine took longer than the interval for the jobs).
    expect(signals).toBeLessThanOrEqual(Math.ceil(elapsed / INTERVAL_MS));
    if (elapsed < INTERVAL_MS) expect(signals).toBe(1);
  });

  it('a use of a replaced image never touches the current one', async () => {
    const ids = uniqueIds('uses-old');
    const old = await snapshot('uses-old', ids);
    await register(old);
    // A stopped container keeps the old image on the engine after its replacement (removal-blocked).
    const container = await h.docker.createContainer({
      Image: old.image,
      Cmd: ['true'],
      HostConfig: { NetworkMode: 'none' },
    });
    try {
      const fresh = await snapshot('uses-old', ids);
      expect((await register(fresh)).outcome).toBe('replaced');
      await useDue(fresh);
      const before = await lastUsed(fresh);
      const notCurrent = await metric('not-current');
      await container.start();
      await container.wait();
      await waitFor(async () => (await metric('not-current')) > notCurrent, {
        ...DEADLINE,
        message: 'the start of a container from the replaced image was not seen',
      });
      expect(await lastUsed(fresh)).toBe(before);
    } finally {
      await removeContainerById(h.docker, container.id);
    }
  });

  it('follows the engine again after the engine restarts', async () => {
    const s = await snapshot('uses-reconnect');
    await register(s);
    const rec = recording;
    if (!rec) throw new Error('no recorder');
    const reconnects = async () => {
      const text = await h.metrics.registry.metrics();
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`snapkeeper_engine_event_stream_reconnects_total{host="${h.hostId}"}`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const lostBefore = await reconnects();
    // The host's own engine, stopped and started again on its data root (its images stay).
    const dir = join(testEnv().workDir, h.hostId);
    await exec('bash', ['scripts/docker-engine.sh', 'stop', dir]);
    await waitFor(async () => (await reconnects()) > lostBefore, {
      ...DEADLINE,
      message: 'the end of the event stream was not noticed',
    });
    await startDockerEngine(dir);
    await useDue(s);
    const before = await lastUsed(s);
    // Run jobs until one is seen: the first may start before the watch is back.
    await waitFor(
      async () => {
        await runJob(s.image);
        await rec.recorder.idle();
        return (await lastUsed(s)) > before;
      },
      { ...DEADLINE, intervalMs: 500, message: 'no use recorded after the stream came back' },
    );
  });
});
