// Disk pressure made real: a private engine whose data root is a 300 MiB tmpfs, and snapshots that
// carry 40 MiB of random bytes each, committed until the high watermark is crossed. The
// registration that crosses it evicts the least recently used snapshots until the disk is below
// the low watermark, and no further.
import { statfs } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import { stateQuery } from '../../src/contract/messages.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { startTestHost } from './reconcile-fixture.js';

const MiB = 1024 * 1024;
const HIGH = 50;
const LOW = 30;
const PAYLOAD = 40 * MiB;

let host: TestHost;

beforeAll(async () => {
  host = await startTestHost({
    name: 'disk',
    tmpfsMb: 300,
    // Every lookup records its use here, so the one below makes the first snapshot the most recent.
    env: {
      SNAPKEEPER_DISK_HIGH_PERCENT: String(HIGH),
      SNAPKEEPER_DISK_LOW_PERCENT: String(LOW),
      SNAPKEEPER_LOOKUP_RECORD_INTERVAL: '0s',
    },
  });
});

afterAll(async () => {
  await host?.stop();
});

/** As df computes Use%, and as the budget does. */
async function disk(): Promise<{ used: number; total: number; percent: number }> {
  const s = await statfs(host.dataRoot);
  const used = (s.blocks - s.bfree) * s.bsize;
  const total = used + s.bavail * s.bsize;
  return { used, total, percent: (used / total) * 100 };
}

async function freeable(imageId: string): Promise<number> {
  const info = await host.docker.getImage(imageId).inspect();
  const parent = info.Parent ? await host.docker.getImage(info.Parent).inspect() : undefined;
  return info.Size - (parent?.Size ?? 0);
}

describe('budget: disk watermarks', () => {
  it('evicts the least recently used snapshots once a commit crosses the high watermark, down to below the low one', async () => {
    expect(host.dataRoot.startsWith('/')).toBe(true);
    const start = await disk();
    expect(start.total).toBeLessThan(310 * MiB);
    expect(start.percent).toBeLessThan(LOW);

    interface Snap {
      ids: { projectId: string; workItemId: string };
      image: string;
      imageId: string;
      /** What removing it frees, measured before any eviction. */
      freeable: number;
    }
    const snaps: Snap[] = [];
    let before = start;
    let crossing = -1;
    for (let i = 0; i < 8 && crossing < 0; i++) {
      if (i === 3) {
        // Make the first snapshot recently used: it must outlive the second and third.
        const first = snaps[0]!;
        await host.service.lookup(first.ids.projectId, first.ids.workItemId);
      }
      const ids = uniqueIds(`disk-${i}`);
      const img = await makeSnapshotImage(host.docker, { ...ids, labels: 'managed', bytes: PAYLOAD });
      snaps.push({ ids, ...img, freeable: await freeable(img.imageId) });
      before = await disk();
      await host.service.register({ ...ids, image: img.image, host: host.hostId });
      if (before.percent >= HIGH) crossing = i;
      else expect((await host.budget())?.evictionsTotal ?? 0).toBe(0);
    }
    expect(crossing, 'the high watermark was never crossed').toBeGreaterThanOrEqual(2);

    const budget = await host.budget();
    const decision = budget?.lastDecision;
    expect(decision?.evicted.length).toBeGreaterThan(0);
    expect(decision?.evicted.every((e) => e.limit === 'disk')).toBe(true);
    expect(decision?.evicted[0]?.reason).toMatch(new RegExp(`high watermark ${HIGH}%.*below ${LOW}%`));

    // Least recently used first: the second, third, … snapshot; never the touched first one nor
    // the one just registered.
    const lru = [snaps[1]!, snaps[2]!, ...snaps.slice(3, crossing), snaps[0]!];
    const evicted = decision!.evicted.map((e) => e.imageId);
    expect(evicted).toEqual(lru.slice(0, evicted.length).map((s) => s.imageId));

    // Exactly as many as needed: without the last one the estimate would not have gone below LOW.
    const freed = evicted.map((id) => snaps.find((s) => s.imageId === id)!.freeable);
    const total = freed.reduce((a, b) => a + b, 0);
    const last = freed[freed.length - 1]!;
    expect(((before.used - total) / before.total) * 100).toBeLessThan(LOW);
    expect(((before.used - total + last) / before.total) * 100).toBeGreaterThanOrEqual(LOW);

    // The evicted snapshots ended as such, and their bytes really left the disk.
    for (const id of evicted) {
      const snap = snaps.find((s) => s.imageId === id)!;
      const view = await host.client.workflow
        .getHandle(snapshotWorkflowId(snap.ids.projectId, snap.ids.workItemId))
        .query(stateQuery);
      expect(view.last).toMatchObject({ imageId: id, endReason: 'evicted' });
      await waitFor(async () => !(await imageExists(host.docker, id)), {
        timeoutMs: 60_000,
        message: `evicted image ${id} still on the engine`,
      });
    }
    const after = await disk();
    expect(after.percent).toBeLessThan(LOW);
    for (const s of snaps.filter((x) => !evicted.includes(x.imageId))) {
      expect(await imageExists(host.docker, s.imageId)).toBe(true);
    }
    expect(await imageExists(host.docker, host.canaryImageId)).toBe(true);
    expect(await imageExists(host.docker, host.baseImageId)).toBe(true);

    // A reconcile checks the budget again: below the watermark, nothing more goes.
    const report = await host.reconcile({ orphanGraceSeconds: 600, dryRun: false });
    expect(report.error).toBeNull();
    expect((await host.budget())?.evictionsTotal).toBe(evicted.length);
    expect(await host.metrics.registry.metrics()).toContain(
      `snapkeeper_budget_evictions_total{host="${host.hostId}",limit="disk"} ${evicted.length}`,
    );
  });
});
