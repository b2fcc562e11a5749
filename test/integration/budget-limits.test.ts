// Count, byte and per-project budgets, enforced at registration: the least recently used snapshots
// of the host are evicted at once, exactly as many as needed, also when registrations race.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetWorkflowId, snapshotWorkflowId } from '../../src/contract/names.js';
import type { SnapshotWorkflowView } from '../../src/contract/snapshot-types.js';
import { stateQuery } from '../../src/contract/messages.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { startTestHost } from './reconcile-fixture.js';

const DEADLINE = { timeoutMs: 60_000 };
const hosts: TestHost[] = [];

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

async function host(
  name: string,
  env: Record<string, string>,
  extra: Parameters<typeof startTestHost>[0] = { name },
) {
  // The shared engine: budgets only ever evict snapshots registered for their own host id.
  const h = await startTestHost({ ...extra, name, privateEngine: false, env });
  hosts.push(h);
  return h;
}

interface Snap {
  ids: { projectId: string; workItemId: string };
  image: string;
  imageId: string;
  workflowId: string;
}

async function image(
  h: TestHost,
  ids: { projectId: string; workItemId: string },
  bytes = 64 * 1024,
): Promise<Snap> {
  const img = await makeSnapshotImage(h.docker, { ...ids, labels: 'managed', bytes });
  return { ids, ...img, workflowId: snapshotWorkflowId(ids.projectId, ids.workItemId) };
}

async function register(h: TestHost, s: Snap) {
  return h.service.register({ ...s.ids, image: s.image, host: h.hostId });
}

async function view(h: TestHost, s: Snap): Promise<SnapshotWorkflowView> {
  return h.client.workflow.getHandle(s.workflowId).query(stateQuery);
}

/** The snapshot was evicted: its workflow says so, and its image left the disk. */
async function expectEvicted(h: TestHost, s: Snap, limit: RegExp) {
  const v = await view(h, s);
  expect(v.current).toBeNull();
  expect(v.last).toMatchObject({ imageId: s.imageId, endReason: 'evicted' });
  expect(v.last?.message).toMatch(/^evicted: /);
  expect(v.last?.message).toMatch(limit);
  await waitFor(async () => !(await imageExists(h.docker, s.imageId)), {
    ...DEADLINE,
    message: `evicted image ${s.imageId} still on the engine`,
  });
}

async function expectActive(h: TestHost, s: Snap) {
  const v = await view(h, s);
  expect(v.current?.imageId, `${s.workflowId} should still be active`).toBe(s.imageId);
  expect(await imageExists(h.docker, s.imageId)).toBe(true);
}

describe('budget: snapshot count', () => {
  let h: TestHost;
  beforeAll(async () => {
    // Every lookup records its use here, so the one below makes a the most recent at once.
    h = await host('count', { SNAPKEEPER_MAX_SNAPSHOTS: '3', SNAPKEEPER_LOOKUP_RECORD_INTERVAL: '0s' });
  });

  it('evicts exactly the least recently used one when a registration crosses the limit', async () => {
    const [a, b, c, d] = await Promise.all(
      ['a', 'b', 'c', 'd'].map((n) => image(h, uniqueIds(`count-${n}`))),
    );
    for (const s of [a!, b!, c!]) await register(h, s);
    // A lookup is a use: a is now more recent than b and c.
    expect((await h.service.lookup(a!.ids.projectId, a!.ids.workItemId))?.imageId).toBe(a!.imageId);
    for (const s of [a!, b!, c!]) await expectActive(h, s);

    await register(h, d!);
    // At once: when the registration returns, the eviction has been decided and signalled.
    await expectEvicted(h, b!, /may keep 3 snapshot/);
    for (const s of [a!, c!, d!]) await expectActive(h, s);

    const budget = await h.budget();
    expect(budget?.entries.map((e) => e.workflowId).sort()).toEqual(
      [a!, c!, d!].map((s) => s.workflowId).sort(),
    );
    expect(budget?.evictionsTotal).toBe(1);
    expect(budget?.lastDecision?.evicted.map((e) => e.workflowId)).toEqual([b!.workflowId]);
    expect(await h.metrics.registry.metrics()).toContain(
      `snapkeeper_budget_evictions_total{host="${h.hostId}",limit="count"} 1`,
    );
  });

  it('a replacement stays one snapshot of its work item', async () => {
    const budgetBefore = (await h.budget())?.entries.length;
    const ids = uniqueIds('count-replace');
    const first = await image(h, ids);
    const second = await image(h, ids);
    await register(h, first);
    const evictionsBefore = (await h.budget())?.evictionsTotal ?? 0;
    const result = await register(h, second);
    expect(result.outcome).toBe('replaced');
    const budget = await h.budget();
    // The replacement did not count as a fourth snapshot: nothing more was evicted for it.
    expect(budget?.evictionsTotal).toBe(evictionsBefore);
    expect(budget?.entries.find((e) => e.workflowId === second.workflowId)?.imageId).toBe(second.imageId);
    expect(budget?.entries).toHaveLength(Math.min((budgetBefore ?? 0) + 1, 3));
  });
});

describe('budget: bytes', () => {
  it('evicts the least recently used, as many as needed to fit and no more', async () => {
    const MiB = 1024 * 1024;
    // Images first, so the limit can be set from their real sizes.
    const sizes = [1, 1, 1, 4];
    const setup = await host('bytes-probe', {});
    const snaps = await Promise.all(sizes.map((mib, i) => image(setup, uniqueIds(`bytes-${i}`), mib * MiB)));
    // True bytes (issue 21, budget-true-bytes): what each snapshot adds to the disk, its own layer;
    // the base image under them all is not theirs to count.
    const base = (await setup.docker.getImage(setup.baseImageId).inspect()).Size;
    const size = async (s: Snap) => (await setup.docker.getImage(s.imageId).inspect()).Size - base;
    const [sa, sb, sc, sd] = await Promise.all(snaps.map(size));
    // a, b, c fit; with d, a and b must both go (a alone is not enough), c and d stay.
    const max = sc! + sd! + Math.floor(sb! / 2);
    expect(sa! + sb! + sc!).toBeLessThanOrEqual(max);
    const h = await host('bytes', { SNAPKEEPER_MAX_BYTES: String(max) });
    const [a, b, c, d] = snaps as [Snap, Snap, Snap, Snap];
    for (const s of [a, b, c]) await register(h, s);
    for (const s of [a, b, c]) await expectActive(h, s);
    await register(h, d);
    await expectEvicted(h, a, /may keep .* of snapshots/);
    await expectEvicted(h, b, /may keep .* of snapshots/);
    await expectActive(h, c);
    await expectActive(h, d);
    const budget = await h.budget();
    expect(budget?.evictionsTotal).toBe(2);
    expect(budget?.lastDecision?.usage.bytes).toBe(sc! + sd!);
    expect(budget?.lastDecision?.evicted.every((e) => e.limit === 'bytes')).toBe(true);
  });
});

describe('budget: per-project maxSnapshots from the policy file', () => {
  it("evicts within the project only, by that project's limit", async () => {
    const limited = `limited-${randomBytes(4).toString('hex')}`;
    const policy = join(testEnv().workDir, `policy-${limited}.yaml`);
    await writeFile(policy, `projects:\n  ${limited}:\n    maxSnapshots: 2\n`);
    const h = await host('project', { SNAPKEEPER_CONFIG: policy });
    const item = (n: string) => ({
      projectId: limited,
      workItemId: `w-${n}-${randomBytes(3).toString('hex')}`,
    });
    const other = await image(h, uniqueIds('other'));
    await register(h, other);
    const [p1, p2, p3] = await Promise.all(['1', '2', '3'].map((n) => image(h, item(n))));
    for (const s of [p1!, p2!]) await register(h, s);
    await register(h, p3!);
    await expectEvicted(h, p1!, new RegExp(`project ${limited} may keep 2 snapshot`));
    for (const s of [p2!, p3!, other]) await expectActive(h, s);
    expect((await h.budget())?.lastDecision?.evicted).toEqual([
      expect.objectContaining({ workflowId: p1!.workflowId, limit: 'project', projectId: limited }),
    ]);
  });

  it('limits a project named constructor like any other (its counts are not inherited properties)', async () => {
    // Issue 17: counts keyed by project id in plain objects read Object.prototype.constructor.
    const name = 'constructor';
    const policy = join(testEnv().workDir, `policy-${name}-${randomBytes(4).toString('hex')}.yaml`);
    await writeFile(policy, `projects:\n  ${name}:\n    maxSnapshots: 1\n`);
    const h = await host('ctor', { SNAPKEEPER_CONFIG: policy });
    const item = (n: string) => ({ projectId: name, workItemId: `w-${n}-${randomBytes(3).toString('hex')}` });
    const [c1, c2, c3] = await Promise.all(['1', '2', '3'].map((n) => image(h, item(n))));
    for (const s of [c1!, c2!, c3!]) await register(h, s);
    await expectEvicted(h, c1!, /project constructor may keep 1 snapshot/);
    await expectEvicted(h, c2!, /project constructor may keep 1 snapshot/);
    await expectActive(h, c3!);
    const budget = await h.budget();
    expect(budget?.totals.count).toBe(1);
    expect(budget?.totals.projectCounts).toEqual({ constructor: 1 });
  });
});

describe('budget: racing registrations', () => {
  it('end within the limit, with exactly as many evictions as needed', async () => {
    // A short history limit makes the budget continue-as-new in the middle of it.
    const h = await host(
      'race',
      { SNAPKEEPER_MAX_SNAPSHOTS: '3' },
      { name: 'race', budgetWorkflowOptions: { continueAsNewAfterEvents: 40 } },
    );
    const first = await Promise.all(['x1', 'x2', 'x3'].map((n) => image(h, uniqueIds(`race-${n}`))));
    for (const s of first) await register(h, s);
    const racing = await Promise.all(
      ['y1', 'y2', 'y3', 'y4', 'y5'].map((n) => image(h, uniqueIds(`race-${n}`))),
    );
    const results = await Promise.all(racing.map((s) => register(h, s)));
    expect(results.every((r) => r.outcome === 'created')).toBe(true);

    const all = [...first, ...racing];
    const views = await Promise.all(all.map((s) => view(h, s)));
    const active = all.filter((_, i) => views[i]?.current !== null);
    const evicted = all.filter((_, i) => views[i]?.last?.endReason === 'evicted');
    expect(active).toHaveLength(3);
    expect(evicted).toHaveLength(all.length - 3);
    // The three registered before the race were the least recently used.
    for (const s of first) expect(evicted).toContain(s);
    for (const s of evicted) await expectEvicted(h, s, /may keep 3 snapshot/);
    for (const s of active) await expectActive(h, s);

    const budget = await h.budget();
    expect(budget?.entries.map((e) => e.workflowId).sort()).toEqual(active.map((s) => s.workflowId).sort());
    expect(budget?.evictionsTotal).toBe(all.length - 3);
    // It carried its state across continue-as-new.
    await waitFor(
      async () => (await h.client.workflow.count(`WorkflowId='${budgetWorkflowId(h.hostId)}'`)).count > 1,
      { timeoutMs: 15_000, message: 'the budget workflow did not continue-as-new' },
    );
  });
});
