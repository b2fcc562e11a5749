// True bytes in the budget (issue 21, budget-true-bytes): on a private engine, a chain of real
// `docker commit` snapshots. The budget's byte count equals what the engine itself measures for them
// (`docker system df` LayersSize with them, less without), where a sum of image sizes counts the
// base and the parent again and df's per-image unique size counts a shared parent in no one; and a
// byte limit evicts by that count.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BudgetCheckResult } from '../../src/contract/budget-types.js';
import { budgetCheckUpdate, stateQuery } from '../../src/contract/messages.js';
import { budgetWorkflowId, snapshotWorkflowId } from '../../src/contract/names.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { startTestHost } from './reconcile-fixture.js';

const MiB = 1024 * 1024;
const DEADLINE = { timeoutMs: 60_000 };
let engine: TestHost;
const hosts: TestHost[] = [];

beforeAll(async () => {
  // A private engine: its LayersSize moves only with what these tests do.
  engine = await startTestHost({ name: 'true-bytes' });
});

afterAll(async () => {
  for (const h of hosts) await h.stop();
  await engine?.stop();
});

interface Snap {
  ids: { projectId: string; workItemId: string };
  image: string;
  imageId: string;
  workflowId: string;
  /** Image size as the engine reports it (parent layers included). */
  size: number;
}

async function snap(name: string, mib: number, from?: Snap): Promise<Snap> {
  const ids = uniqueIds(name);
  const img = await makeSnapshotImage(engine.docker, {
    ...ids,
    labels: 'managed',
    bytes: mib * MiB,
    ...(from ? { fromImage: from.image } : {}),
  });
  const size = (await engine.docker.getImage(img.imageId).inspect()).Size;
  return { ids, ...img, workflowId: snapshotWorkflowId(ids.projectId, ids.workItemId), size };
}

async function layersSize(): Promise<number> {
  return ((await engine.docker.df()) as { LayersSize: number }).LayersSize;
}

/** What df says each image holds alone: Size - SharedSize (what `docker system df -v` shows). */
async function dfUnique(ids: string[]): Promise<number> {
  const images = (
    (await engine.docker.df()) as { Images: Array<{ Id: string; Size: number; SharedSize: number }> }
  ).Images;
  return images.filter((i) => ids.includes(i.Id)).reduce((n, i) => n + i.Size - Math.max(i.SharedSize, 0), 0);
}

async function check(h: TestHost, discover = false): Promise<BudgetCheckResult> {
  return h.client.workflow
    .getHandle(budgetWorkflowId(h.hostId))
    .executeUpdate(budgetCheckUpdate, { args: [{ discover }] });
}

async function view(h: TestHost, s: Snap) {
  return h.client.workflow.getHandle(s.workflowId).query(stateQuery);
}

async function register(h: TestHost, s: Snap) {
  return h.service.register({ ...s.ids, image: s.image, host: h.hostId });
}

/** A host id of its own on the shared private engine, with its own budget settings. */
async function budgetHost(name: string, env: Record<string, string>): Promise<TestHost> {
  const h = await startTestHost({ name, engineOf: engine, env });
  hosts.push(h);
  return h;
}

async function freedMetric(host: string): Promise<number> {
  const text = await engine.metrics.registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`snapkeeper_removal_freed_bytes_total{host="${host}",`))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

// First: the reconciler of the engine's own host id takes every managed image nobody owns.
describe('reconciler removals record what they freed', () => {
  it("report and metrics carry the engine's before/after measure of the batch", async () => {
    const o1 = await snap('tb-orphan-1', 2);
    const o2 = await snap('tb-orphan-2', 1);
    const metricBefore = await freedMetric(engine.hostId);
    const before = await layersSize();
    const report = await engine.reconcile({ orphanGraceSeconds: 0, dryRun: false });
    const after = await layersSize();
    expect(report.counts.orphansRemoved).toBe(2);
    for (const o of [o1, o2]) expect(await imageExists(engine.docker, o.imageId)).toBe(false);
    expect(report.counts.orphanBytesFreed).toBe(before - after);
    expect(report.counts.orphanBytesFreedEstimated ?? 0).toBe(0);
    expect(before - after).toBeGreaterThanOrEqual(3 * MiB);
    expect(before - after).toBeLessThan(4 * MiB);
    // The image sizes the report already summed count the base image in each.
    expect(report.counts.orphanBytesRemoved).toBe(o1.size + o2.size);
    expect(await freedMetric(engine.hostId)).toBe(metricBefore + (before - after));
  });
});

describe('budget true bytes on a chain of docker commits', () => {
  it("reports the engine's own measure of the snapshots' bytes, each layer once", async () => {
    const before = await layersSize();
    const a = await snap('tb-a', 3);
    const b = await snap('tb-b', 2, a); // a child of a: a's layers are b's too
    const c = await snap('tb-c', 1);
    const measured = (await layersSize()) - before;
    const h = await budgetHost('tb-report', { SNAPKEEPER_MAX_BYTES: String(1024 * MiB) });
    for (const s of [a, b, c]) expect((await register(h, s)).outcome).toBe('created');

    // A registration far from every limit may tell the budget later: count the host until all three are in.
    const result = await waitFor(
      async () => {
        const r = await check(h, true);
        return r.usage.snapshots === 3 ? r : undefined;
      },
      { ...DEADLINE, message: 'the budget did not count the three snapshots' },
    );
    expect(result.evictedCount ?? result.evicted.length).toBe(0);
    expect(result.usage.bytes).toBe(measured);
    expect((await h.budget())?.lastDecision?.usage.bytes).toBe(measured);
    // The 6 MiB of payload, and a little more (the commits' own files).
    expect(measured).toBeGreaterThanOrEqual(6 * MiB);
    expect(measured).toBeLessThan(7 * MiB);
    // What the counts it replaces would say: image sizes count the base image three times and a's
    // payload twice (kubernetes#68203); df's unique sizes count a's payload in neither a nor b.
    expect(a.size + b.size + c.size).toBeGreaterThan(measured + 3 * MiB);
    const unique = await dfUnique([a.imageId, b.imageId, c.imageId]);
    expect(unique).toBeLessThan(measured - 3 * MiB + MiB / 2);
  });

  it('evicts by true bytes: a parent frees nothing while its child stays, so both go', async () => {
    const base = (await engine.docker.getImage(engine.baseImageId).inspect()).Size;
    const a = await snap('tb-la', 3);
    const b = await snap('tb-lb', 2, a);
    const c = await snap('tb-lc', 1);
    const d = await snap('tb-ld', 4);
    const own = { a: a.size - base, b: b.size - a.size, c: c.size - base, d: d.size - base };
    // a, b and c fit; with d, a must go and frees nothing (b holds its layers), so b goes too.
    const max = own.c + own.d + Math.floor(own.a / 2);
    expect(own.a + own.b + own.c).toBeLessThanOrEqual(max);
    // The image sizes of a and b alone are over it: the old count would have evicted at b.
    expect(a.size + b.size).toBeGreaterThan(max);
    const h = await budgetHost('tb-limit', { SNAPKEEPER_MAX_BYTES: String(max) });
    for (const s of [a, b, c]) await register(h, s);
    for (const s of [a, b, c]) expect((await view(h, s)).current?.imageId, s.workflowId).toBe(s.imageId);
    const before = await layersSize();
    await register(h, d);
    for (const s of [a, b]) {
      const v = await waitFor(
        async () => {
          const v = await view(h, s);
          return v.last?.endReason ? v : undefined;
        },
        { ...DEADLINE, message: `${s.workflowId} did not end` },
      );
      expect(v.last).toMatchObject({ imageId: s.imageId, endReason: 'evicted' });
      expect(v.last?.message).toMatch(/may keep .* of snapshots/);
    }
    for (const s of [a, b])
      await waitFor(async () => !(await imageExists(engine.docker, s.imageId)), {
        ...DEADLINE,
        message: `evicted image ${s.imageId} still on the engine`,
      });
    for (const s of [c, d]) expect((await view(h, s)).current?.imageId, s.workflowId).toBe(s.imageId);
    const budget = await h.budget();
    expect(budget?.evictionsTotal).toBe(2);
    expect(budget?.lastDecision?.evicted.map((e) => e.workflowId)).toEqual([a.workflowId, b.workflowId]);
    expect(budget?.lastDecision?.usage.bytes).toBe(own.c + own.d);
    // What the eviction freed on the engine is what the budget credited it with.
    expect(before - (await layersSize())).toBe(own.a + own.b);
  });
});
