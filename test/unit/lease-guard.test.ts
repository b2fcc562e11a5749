// The reconciler's lease rule: a live lease of the image's own work item keeps an orphan whatever its
// age; an ended one (released, expired, unknown), a malformed label, or a lease of another work item
// does not; a lease that cannot be asked keeps the image this round. Then the rule inside the host
// activities: a leased candidate is neither fenced nor removed.
import { beforeEach, describe, expect, it } from 'vitest';
import { leaseVerdict } from '../../src/service/lease-rule.js';
import { createReconcileHostActivities } from '../../src/activities/reconcile-host-activities.js';
import { LABEL_LEASE, managedLabels } from '../../src/contract/names.js';
import { createLogger } from '../../src/logging/logger.js';
import type { LeaseStatus } from '../../src/service/lease-status.js';
import { FakeDocker } from './fake-docker.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const LEASE = '3f1c2b4e-8d7a-4c1e-9b2f-6a5d4c3b2a10';
const OTHER = '00000000-0000-4000-8000-000000000000';
const leased = (leaseId: string, p = 'p', w = 'w') => ({ ...managedLabels(p, w), [LABEL_LEASE]: leaseId });
const live = (p = 'p', w = 'w'): LeaseStatus => ({
  state: 'live',
  lease: { projectId: p, workItemId: w, expiresAt: '2026-01-01T12:15:00.000Z' },
});

describe('leaseVerdict', () => {
  it('has nothing to say about an image without a lease label', () => {
    expect(leaseVerdict(managedLabels('p', 'w'), null)).toEqual({ protect: false, reason: null });
  });

  it('protects while the lease of the same work item lives', () => {
    expect(leaseVerdict(leased(LEASE), live())).toMatchObject({ protect: true });
    // A live lease whose memo is unreadable still protects: the doubt keeps the image.
    expect(leaseVerdict(leased(LEASE), { state: 'live', lease: null })).toMatchObject({ protect: true });
  });

  it('protects nothing once the lease ended, whatever ended it', () => {
    for (const status of ['COMPLETED', 'TIMED_OUT', 'TERMINATED', 'NOT_FOUND']) {
      expect(leaseVerdict(leased(LEASE), { state: 'ended', status })).toMatchObject({ protect: false });
    }
  });

  it('does not protect an image of another work item that copies the label', () => {
    expect(leaseVerdict(leased(LEASE, 'p', 'other'), live())).toMatchObject({
      protect: false,
      reason: expect.stringContaining('not this work item'),
    });
  });

  it('ignores a malformed label (no workflow id is built from it)', () => {
    expect(leaseVerdict(leased('lease:../x'), live())).toMatchObject({
      protect: false,
      reason: expect.stringContaining('malformed'),
    });
  });

  it('keeps the image when the lease could not be asked', () => {
    expect(leaseVerdict(leased(LEASE), { state: 'unchecked', error: 'DEADLINE_EXCEEDED' })).toMatchObject({
      protect: true,
    });
  });
});

describe('reconcile host activities with leases', () => {
  const id = (c: string) => `sha256:${c.repeat(64)}`;
  let docker: FakeDocker;
  let statuses: Map<string, LeaseStatus | Error>;
  let asked: string[];

  function acts(withLookup = true) {
    return createReconcileHostActivities({
      docker,
      log: createLogger({ level: 'silent' }),
      now: () => NOW,
      ...(withLookup
        ? {
            leaseLookup: async (leaseId: string) => {
              asked.push(leaseId);
              const s = statuses.get(leaseId) ?? { state: 'ended', status: 'NOT_FOUND' };
              if (s instanceof Error) throw s;
              return s;
            },
          }
        : {}),
    });
  }

  function add(c: string, labels: Record<string, string>, ageMinutes: number) {
    docker.addImage(id(c), [`snap/p:${c}`], labels, '');
    docker.images.get(id(c))!.createdAt = new Date(NOW - ageMinutes * 60_000).toISOString();
  }

  beforeEach(() => {
    docker = new FakeDocker();
    statuses = new Map();
    asked = [];
  });

  it('neither fences nor removes a commit whose lease lives, however old; removes it once the lease ended', async () => {
    add('a', leased(LEASE), 120);
    add('b', managedLabels('p', 'w'), 120);
    statuses.set(LEASE, live());
    const a = acts();
    expect(await a.fenceOrphanImages({ imageIds: [id('a'), id('b')] })).toEqual([id('b')]);
    expect(docker.images.get(id('a'))?.repoTags).toEqual(['snap/p:a']);
    const first = await a.removeOrphanImages({ imageIds: [id('a'), id('b')], orphanGraceSeconds: 30 });
    expect(first.map((r) => r.outcome)).toEqual(['too-young', 'removed']);
    expect(first[0]?.reason).toContain(LEASE);
    expect(docker.images.has(id('a'))).toBe(true);

    // Released (or expired): an ordinary orphan again, older than the grace, so it goes.
    statuses.set(LEASE, { state: 'ended', status: 'COMPLETED' });
    const b = acts();
    expect(await b.fenceOrphanImages({ imageIds: [id('a')] })).toEqual([id('a')]);
    const second = await b.removeOrphanImages({ imageIds: [id('a')], orphanGraceSeconds: 30 });
    expect(second.map((r) => r.outcome)).toEqual(['removed']);
    expect(docker.images.has(id('a'))).toBe(false);
  });

  it('marks a live-leased image in its page (so a dry run does not count it either), not an ended one', async () => {
    add('a', leased(LEASE), 120);
    add('b', leased(OTHER), 120);
    add('c', managedLabels('p', 'w'), 120);
    statuses.set(LEASE, live());
    const page = await acts().listManagedImagesPage({ listing: 'l', after: null, limit: 10 });
    const byId = new Map(page.images.map((i) => [i.imageId, i]));
    expect(byId.get(id('a'))?.lease).toMatchObject({
      leaseId: LEASE,
      reason: expect.stringContaining(LEASE),
    });
    expect(byId.get(id('b'))).not.toHaveProperty('lease');
    expect(byId.get(id('c'))).not.toHaveProperty('lease');
    // The unlabelled image cost no lease check.
    expect(asked.sort()).toEqual([OTHER, LEASE].sort());
  });

  it('still applies the grace to a commit whose lease ended', async () => {
    add('a', leased(LEASE), 0);
    const results = await acts().removeOrphanImages({ imageIds: [id('a')], orphanGraceSeconds: 30 });
    expect(results.map((r) => r.outcome)).toEqual(['too-young']);
    expect(docker.images.has(id('a'))).toBe(true);
  });

  it('keeps a leased image when the lease cannot be asked, or there is no client to ask', async () => {
    add('a', leased(LEASE), 120);
    statuses.set(LEASE, new Error('4 DEADLINE_EXCEEDED'));
    expect(
      (await acts().removeOrphanImages({ imageIds: [id('a')], orphanGraceSeconds: 30 }))[0]?.outcome,
    ).toBe('too-young');
    expect(
      (await acts(false).removeOrphanImages({ imageIds: [id('a')], orphanGraceSeconds: 30 }))[0]?.outcome,
    ).toBe('too-young');
    expect(docker.images.has(id('a'))).toBe(true);
  });

  it("removes an old image carrying another work item's live lease", async () => {
    add('a', leased(LEASE, 'p', 'someone-else'), 120);
    statuses.set(LEASE, live('p', 'w'));
    const results = await acts().removeOrphanImages({ imageIds: [id('a')], orphanGraceSeconds: 30 });
    expect(results.map((r) => r.outcome)).toEqual(['removed']);
  });

  it('asks a live lease at every check (a release shows at once), an ended one only once', async () => {
    add('a', leased(LEASE), 120);
    add('c', leased(OTHER), 120);
    statuses.set(LEASE, live());
    const a = acts();
    await a.fenceOrphanImages({ imageIds: [id('a'), id('c')] });
    await a.removeOrphanImages({ imageIds: [id('a'), id('c')], orphanGraceSeconds: 30 });
    expect(asked.filter((l) => l === OTHER)).toHaveLength(1);
    expect(asked.filter((l) => l === LEASE)).toHaveLength(2);
    expect(docker.images.has(id('c'))).toBe(false);
    // Released between two runs of the same worker: the next check sees it.
    statuses.set(LEASE, { state: 'ended', status: 'COMPLETED' });
    const results = await a.removeOrphanImages({ imageIds: [id('a')], orphanGraceSeconds: 30 });
    expect(results.map((r) => r.outcome)).toEqual(['removed']);
  });
});
