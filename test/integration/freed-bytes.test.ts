// True bytes freed (issue 21): every removal records what it freed on the engine's disk, and that
// is what the engine itself measures (`docker system df`'s LayersSize before and after), not a sum of
// image sizes that counts shared layers again. On a private engine, so nothing else changes its
// images while a removal is measured.
import { defaultPayloadConverter } from '@temporalio/common';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerActivities, RemoveSnapshotImageResult } from '../../src/activities/docker-activities.js';
import { createDockerActivities } from '../../src/activities/docker-activities.js';
import { stateQuery } from '../../src/contract/messages.js';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import { createDockerPort } from '../../src/docker/dockerode-adapter.js';
import { createLogger } from '../../src/logging/logger.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { startTestHost } from './reconcile-fixture.js';

const MiB = 1024 * 1024;
let h: TestHost;
let acts: DockerActivities;

beforeAll(async () => {
  h = await startTestHost({ name: 'freed' });
  acts = createDockerActivities({
    docker: createDockerPort(h.docker),
    log: createLogger({ level: 'silent' }),
    metrics: h.metrics,
    hostId: h.hostId,
  });
});

afterAll(async () => {
  await h?.stop();
});

/** The engine's own total of image layer bytes, each layer once. */
async function layersSize(docker: Dockerode = h.docker): Promise<number> {
  return ((await docker.df()) as { LayersSize: number }).LayersSize;
}

async function snap(name: string, mib: number, fromImage?: string) {
  const ids = uniqueIds(name);
  const img = await makeSnapshotImage(h.docker, {
    ...ids,
    labels: 'managed',
    bytes: mib * MiB,
    ...(fromImage ? { fromImage } : {}),
  });
  return { ids, ...img, input: { ...ids, image: img.image, imageId: img.imageId, references: [img.image] } };
}

async function retire(input: Parameters<DockerActivities['retireSnapshotImage']>[0]) {
  const answer = await acts.retireSnapshotImage(input);
  if (answer.step !== 'remove') throw new Error(`retire stopped at ${answer.step}`);
  return answer.result;
}

async function freedMetric(): Promise<number> {
  const text = await h.metrics.registry.metrics();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`snapkeeper_removal_freed_bytes_total{host="${h.hostId}",measure="measured"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('freedBytes: what a removal freed, measured by the engine', () => {
  it('matches the engine before and after a removal, and is counted in the metrics', async () => {
    const s = await snap('freed-one', 4);
    const metricBefore = await freedMetric();
    const before = await layersSize();
    const result = await retire(s.input);
    const after = await layersSize();
    expect(result.outcome).toBe('removed');
    expect(result.freedBytesMeasure).toBe('measured');
    expect(result.freedBytes).toBe(before - after);
    // The 4 MiB payload, and not much more (the snapshot's own layer).
    expect(result.freedBytes).toBeGreaterThanOrEqual(4 * MiB);
    expect(result.freedBytes).toBeLessThan(5 * MiB);
    expect(await freedMetric()).toBe(metricBefore + (result.freedBytes ?? 0));
  });

  it('counts only what the image did not share: a child of another snapshot frees its own layer', async () => {
    const parent = await snap('freed-parent', 3);
    const child = await snap('freed-child', 2, parent.image);
    const childSize = (await h.docker.getImage(child.imageId).inspect()).Size;
    const before = await layersSize();
    const result = await retire(child.input);
    const after = await layersSize();
    expect(result).toMatchObject({ outcome: 'removed', freedBytesMeasure: 'measured' });
    expect(result.freedBytes).toBe(before - after);
    // A sum of image sizes would credit the parent's 3 MiB again (kubernetes#68203).
    expect(childSize).toBeGreaterThan(5 * MiB);
    expect(result.freedBytes).toBeLessThan(3 * MiB);
    expect(result.freedBytes).toBeGreaterThanOrEqual(2 * MiB);
    expect(await imageExists(h.docker, parent.imageId)).toBe(true);
    await retire(parent.input);
  });

  it('includes the retired parent a removal takes along', async () => {
    const parent = await snap('freed-retired', 3);
    const child = await snap('freed-last-child', 2, parent.image);
    // The parent's snapshot ended while its child held its layers: untagged, it waits for the child.
    await h.docker.getImage(parent.image).remove({ noprune: true });
    expect(await imageExists(h.docker, parent.imageId)).toBe(true);
    const before = await layersSize();
    const result = await retire(child.input);
    const after = await layersSize();
    expect(await imageExists(h.docker, parent.imageId)).toBe(false);
    expect(result).toMatchObject({ outcome: 'removed', freedBytesMeasure: 'measured' });
    expect(result.freedBytes).toBe(before - after);
    expect(result.freedBytes).toBeGreaterThanOrEqual(5 * MiB);
  });

  it('the step-wise removal measures too, and removals at once are each measured alone', async () => {
    const [a, b] = await Promise.all([snap('freed-a', 1), snap('freed-b', 2)]);
    // Invalidated first, so removeSnapshotImage (the step-wise path) is the one that deletes.
    for (const s of [a!, b!]) {
      await h.docker.getImage(s.imageId).tag({ repo: 'snapkeeper/held', tag: s.imageId.slice(7) });
      await h.docker.getImage(s.image).remove({ noprune: true });
    }
    const before = await layersSize();
    const results: RemoveSnapshotImageResult[] = await Promise.all(
      [a!, b!].map((s) => acts.removeSnapshotImage({ ...s.ids, imageId: s.imageId, references: [s.image] })),
    );
    const after = await layersSize();
    for (const r of results) expect(r).toMatchObject({ outcome: 'removed', freedBytesMeasure: 'measured' });
    const [ra, rb] = results as [RemoveSnapshotImageResult, RemoveSnapshotImageResult];
    expect((ra.freedBytes ?? 0) + (rb.freedBytes ?? 0)).toBe(before - after);
    expect(ra.freedBytes).toBeGreaterThanOrEqual(1 * MiB);
    expect(ra.freedBytes).toBeLessThan(2 * MiB);
    expect(rb.freedBytes).toBeGreaterThanOrEqual(2 * MiB);
    expect(rb.freedBytes).toBeLessThan(3 * MiB);
  });

  it("reaches the snapshot workflow: the removal activity's result carries freedBytes", async () => {
    const ids = uniqueIds('freed-workflow');
    const img = await makeSnapshotImage(h.docker, { ...ids, labels: 'managed', bytes: 2 * MiB });
    await h.service.register({ ...ids, image: img.image, host: h.hostId });
    const before = await layersSize();
    expect(await h.service.invalidate(ids.projectId, ids.workItemId, 'freed-bytes test')).toBe(true);
    await waitFor(async () => !(await imageExists(h.docker, img.imageId)), {
      timeoutMs: 60_000,
      message: `${img.imageId} was not removed`,
    });
    const after = await layersSize();
    const handle = h.client.workflow.getHandle(snapshotWorkflowId(ids.projectId, ids.workItemId));
    const freed = await waitFor(
      async () => {
        for (const e of (await handle.fetchHistory()).events ?? []) {
          const payload = e.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
          if (!payload) continue;
          const value = defaultPayloadConverter.fromPayload<{ result?: RemoveSnapshotImageResult }>(payload);
          const result = value?.result ?? (value as RemoveSnapshotImageResult | undefined);
          if (result?.outcome === 'removed' && typeof result.freedBytes === 'number') return result;
        }
        return undefined;
      },
      { timeoutMs: 30_000, message: 'no removal result with freedBytes in the history' },
    );
    expect(freed.freedBytesMeasure).toBe('measured');
    expect(freed.freedBytes).toBe(before - after);
    expect(freed.freedBytes).toBeGreaterThanOrEqual(2 * MiB);
    // The snapshot's ended state shows it: the `state` query (the CLI's show) and the Web UI's details.
    const view = await waitFor(
      async () => {
        const v = await handle.query(stateQuery);
        return v.last?.state === 'removed' ? v : undefined;
      },
      { timeoutMs: 30_000, message: 'the ended state was not published' },
    );
    expect(view.last).toMatchObject({ freedBytes: before - after, freedBytesMeasure: 'measured' });
    const details = (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata'))
      .currentDetails;
    expect(details).toContain(`freed: ${((before - after) / 1e6).toFixed(1)} MB`);
  });
});
