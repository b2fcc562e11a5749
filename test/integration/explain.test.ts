// `snapkeeper explain` as a child process against the real dev server and a private engine of this
// file's own (issue 21 part 4): one case per verdict, each on an image made by `docker commit`, and
// each verdict then checked against what the system really does with that image: the budget
// evicts the held snapshot at the registration explain named, the reconciler removes the orphan
// and leaves the kept, leased and unmanaged images, and the leaving one goes once its container does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetCheckUpdate, stateQuery } from '../../src/contract/messages.js';
import {
  LABEL_LEASE,
  budgetWorkflowId,
  managedLabels,
  reconcileScheduleId,
} from '../../src/contract/names.js';
import type { Explanation } from '../../src/service/explain-image.js';
import { createLeaseService } from '../../src/service/lease-service.js';
import { ensureReconcileSchedule } from '../../src/worker/ensure-reconcile-schedule.js';
import { imageExists, makeSnapshotImage, runContainerFrom } from '../support/snapshot-images.js';
import { uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { runCliJson, runCliProcess } from './cli-helpers.js';
import type { TestHost } from './reconcile-fixture.js';
import { startTestHost } from './reconcile-fixture.js';

const DEADLINE = { timeoutMs: 60_000 };
/** The schedule's grace: long, so its runs never take this file's images while it runs. */
const SCHEDULE_GRACE_SECONDS = 3600;
const SCHEDULE_INTERVAL_MS = 24 * 3600_000;

let host: TestHost;

beforeAll(async () => {
  host = await startTestHost({ name: 'explain', env: { SNAPKEEPER_MAX_SNAPSHOTS: '3' } });
  await ensureReconcileSchedule(host.client, {
    hostId: host.hostId,
    intervalMs: SCHEDULE_INTERVAL_MS,
    orphanGraceSeconds: SCHEDULE_GRACE_SECONDS,
  });
});

afterAll(async () => {
  await host?.client.schedule
    .getHandle(reconcileScheduleId(host.hostId))
    .delete()
    .catch(() => undefined);
  await host?.stop();
});

/** The CLI as an operator on the host runs it: DOCKER_HOST and SNAPKEEPER_HOST_ID of its worker. */
function hostEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { DOCKER_HOST: host.dockerHost, SNAPKEEPER_HOST_ID: host.hostId, ...extra };
}

function explain(ref: string, extraArgs: string[] = [], env: Record<string, string> = {}) {
  return runCliJson<Explanation>(['explain', ref, ...extraArgs], 0, hostEnv(env));
}

async function registered(prefix: string) {
  const ids = uniqueIds(prefix);
  const img = await makeSnapshotImage(host.docker, ids);
  await host.service.register({ ...ids, image: img.image, host: host.hostId });
  return { ids, img };
}

describe('snapkeeper explain', () => {
  it('unmanaged: the base and canary images, answered from the engine alone (Temporal unreachable)', async () => {
    const e = await explain(host.canaryImageId, [], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(e.verdict).toBe('unmanaged');
    expect(e.reasons[0]).toContain('will never remove, untag or evict it');
    expect((await explain(host.baseImageId)).verdict).toBe('unmanaged');
  });

  it('an image the engine does not have: exit 3 and a message, as show does for a missing snapshot', async () => {
    const missing = await runCliProcess(['explain', 'snapkeeper-test/none:nothing'], { env: hostEnv() });
    expect(missing.code).toBe(3);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe(
      `no image snapkeeper-test/none:nothing on host ${host.hostId} (engine ${host.dockerHost})\n`,
    );
    const bad = await runCliProcess(['explain', 'Not A Reference'], { env: hostEnv() });
    expect(bad.code).toBe(2);
  });

  it('held: names its workflow and state, and the budget evicts it at the registration it names', async () => {
    const first = await registered('explain-held');
    const second = await registered('explain-held');
    // A decision reads the limits (SNAPKEEPER_MAX_SNAPSHOTS=3 on this host's worker) and the disk.
    const budget = host.client.workflow.getHandle(budgetWorkflowId(host.hostId));
    await waitFor(
      async () => {
        await budget.executeUpdate(budgetCheckUpdate, { args: [{}] });
        const view = await host.budget();
        return view?.lastDecision?.limits && view.totals.count === 2 ? view : null;
      },
      { ...DEADLINE, message: 'the budget never counted the two snapshots' },
    );
    const e = await explain(first.img.image);
    expect(e.verdict).toBe('held');
    expect(e.owner).toMatchObject({
      workflowId: expect.stringContaining(first.ids.workItemId),
      holds: 'current',
    });
    expect(e.reasons[0]).toMatch(/holds it as the current snapshot of .*, state active$/);
    expect(e.budget).toMatchObject({ rank: 1, snapshots: 2 });
    // Limit 3, 2 held, this one the coldest: a third fills the host, a fourth evicts it.
    expect(e.budget?.next).toMatchObject({ limit: 'count', registrationsBefore: 2 });

    const human = await runCliProcess(['explain', first.img.image], { env: hostEnv() });
    expect(human.code).toBe(0);
    expect(human.stdout.split('\n')[0]).toBe(
      `${first.img.image}  ${first.img.imageId.slice(7, 19)}  host ${host.hostId}: held`,
    );
    expect(human.stdout).toContain('\nwhy:\n  - workflow ');

    const firstHandle = host.service.handle(first.ids.projectId, first.ids.workItemId);
    const third = await registered('explain-held');
    expect((await firstHandle.describe()).status.name).toBe('RUNNING');
    const fourth = await registered('explain-held');
    const ended = await waitFor(
      async () => {
        const d = await firstHandle.describe();
        return d.status.name === 'COMPLETED' ? firstHandle.result() : null;
      },
      { ...DEADLINE, message: 'the fourth registration did not evict the snapshot explain named' },
    );
    expect(ended.last).toMatchObject({ imageId: first.img.imageId, endReason: 'evicted' });
    for (const s of [second, third, fourth])
      await host.service.invalidate(s.ids.projectId, s.ids.workItemId, 'explain test done');
  });

  it('leaving: a container blocks the removal of an invalidated snapshot; it goes once the container does', async () => {
    const { ids, img } = await registered('explain-leaving');
    const container = await runContainerFrom(host.docker, img.image);
    const handle = host.service.handle(ids.projectId, ids.workItemId);
    try {
      await host.service.invalidate(ids.projectId, ids.workItemId, 'explain test: leaving');
      await waitFor(async () => (await handle.query(stateQuery)).retiring[0]?.state === 'removal-blocked', {
        ...DEADLINE,
        message: 'never showed removal-blocked',
      });
      const e = await explain(img.imageId);
      expect(e.verdict).toBe('leaving');
      expect(e.owner).toMatchObject({ holds: 'retiring' });
      expect(e.containers.map((c) => c.id)).toEqual([container.id]);
      expect(e.reasons[0]).toContain('is removing it');
      expect(e.reasons.join('\n')).toContain(container.id.slice(0, 12));
    } finally {
      await container.stop();
    }
    await handle.result();
    expect(await imageExists(host.docker, img.imageId)).toBe(false);
  });

  it('kept, leased and orphan, then a reconcile run: it removes the orphan only', async () => {
    // Kept: a managed commit with a second tag snapkeeper cannot attribute.
    const keptIds = uniqueIds('explain-kept');
    const kept = await makeSnapshotImage(host.docker, keptIds);
    await host.docker
      .getImage(kept.imageId)
      .tag({ repo: 'snapkeeper-test/promoted', tag: keptIds.workItemId });
    // Leased: a commit labelled with a live lease of its own work item.
    const leasedIds = uniqueIds('explain-leased');
    const grant = await createLeaseService({ client: host.client }).create({ ...leasedIds, ttlSeconds: 600 });
    const leased = await makeSnapshotImage(host.docker, {
      ...leasedIds,
      labels: { ...managedLabels(leasedIds.projectId, leasedIds.workItemId), [LABEL_LEASE]: grant.leaseId },
    });
    // Orphan: a managed commit nobody registered.
    const orphanIds = uniqueIds('explain-orphan');
    const orphan = await makeSnapshotImage(host.docker, orphanIds);

    const k = await explain(kept.image);
    expect(k.verdict).toBe('kept');
    expect(k.references?.foreign).toHaveLength(2);
    expect(k.reasons[0]).toContain('was never registered');

    const l = await explain(leased.imageId);
    expect(l.verdict).toBe('leased');
    expect(l.lease).toMatchObject({
      leaseId: grant.leaseId,
      state: 'live',
      protects: true,
      expiresAt: grant.expiresAt,
    });

    const o = await explain(orphan.image);
    expect(o.verdict).toBe('orphan');
    const created = Date.parse(o.image.createdAt);
    // The grace is the schedule's (its runs' input), not this process's SNAPKEEPER_ORPHAN_GRACE.
    expect(o.reaping).toMatchObject({
      graceSeconds: SCHEDULE_GRACE_SECONDS,
      graceFrom: 'schedule',
      noRun: null,
    });
    expect(Date.parse(o.reaping?.eligibleAt ?? '')).toBe(created + SCHEDULE_GRACE_SECONDS * 1000);
    const runAt = Date.parse(o.reaping?.runAt ?? '');
    expect(runAt).toBeGreaterThanOrEqual(created + SCHEDULE_GRACE_SECONDS * 1000);
    expect(runAt - created - SCHEDULE_GRACE_SECONDS * 1000).toBeLessThanOrEqual(SCHEDULE_INTERVAL_MS);
    // The same image seen as another host's: no schedule there, so nothing takes it.
    const ghost = await explain(orphan.image, ['--host', `${host.hostId}-ghost`]);
    expect(ghost.reaping).toMatchObject({ noRun: 'no-schedule', runAt: null });

    // What a run does with a short grace, after it: the orphan goes, the others stay.
    await waitFor(async () => Date.now() - created > 3_000, { ...DEADLINE, message: 'clock' });
    const report = await host.reconcile({ orphanGraceSeconds: 2, dryRun: false });
    expect(report.error).toBeNull();
    expect(await imageExists(host.docker, orphan.imageId)).toBe(false);
    expect(await imageExists(host.docker, kept.imageId)).toBe(true);
    expect(await imageExists(host.docker, leased.imageId)).toBe(true);
    expect(report.kept?.map((i) => i.imageId)).toContain(kept.imageId);

    // Once the lease is released, explain calls the leased image an orphan, and a run takes it.
    await createLeaseService({ client: host.client }).release(grant.leaseId, 'explain test');
    const after = await waitFor(
      async () => {
        const e = await explain(leased.imageId);
        return e.verdict === 'orphan' ? e : null;
      },
      { ...DEADLINE, message: 'the released lease still protected the image' },
    );
    expect(after.reasons[1]).toContain(`its lease ${grant.leaseId} has ended`);
    // The reconciler reuses a live answer for 2 s: a run right after the release may still see it.
    await waitFor(
      async () => {
        await host.reconcile({ orphanGraceSeconds: 2, dryRun: false });
        return !(await imageExists(host.docker, leased.imageId));
      },
      { ...DEADLINE, message: 'no reconcile run took the image once its lease was released' },
    );

    // The kept image's other references are the test's to remove.
    await host.docker.getImage(`snapkeeper-test/promoted:${keptIds.workItemId}`).remove();
    await host.docker.getImage(kept.image).remove();
  });
});
