import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoPath } from '../../scripts/lib/repo-root.js';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import type { ReconcileResult } from '../../src/contract/reconcile-types.js';
import { imageExists, makeSnapshotImage, runContainerFrom } from '../support/snapshot-images.js';
import { testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { imageAgeSeconds, startTestHost } from './reconcile-fixture.js';

const exec = promisify(execFile);
const DEADLINE = { timeoutMs: 60_000 };

let host: TestHost;

beforeAll(async () => {
  host = await startTestHost({ name: 'reconcile' });
});

afterAll(async () => {
  await host?.stop();
});

async function orphan(prefix: string) {
  const ids = uniqueIds(prefix);
  return { ids, ...(await makeSnapshotImage(host.docker, { ...ids, labels: 'managed' })) };
}

async function olderThan(imageId: string, seconds: number) {
  await waitFor(async () => (await imageAgeSeconds(host.docker, imageId)) > seconds, {
    timeoutMs: (seconds + 10) * 1000,
    message: `image ${imageId} did not get older than ${seconds}s`,
  });
}

const ids = (images: Array<{ imageId: string }>) => images.map((i) => i.imageId);

describe('reconciler: orphans', () => {
  it('removes a labelled image that was never registered once it is older than the grace, and keeps a young one', async () => {
    const old = await orphan('old');
    const registered = await orphan('owned');
    await host.service.register({ ...registered.ids, image: registered.image, host: host.hostId });
    const unlabelled = await makeSnapshotImage(host.docker, { ...uniqueIds('plain'), labels: 'none' });
    // The young image must stay younger than the grace through both runs, also on a busy machine.
    await olderThan(old.imageId, 12);
    const young = await orphan('young');

    // A dry run reports what it would do, and does nothing.
    const dry = await host.reconcile({ orphanGraceSeconds: 12, dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(ids(dry.orphansRemoved)).toContain(old.imageId);
    expect(ids(dry.orphansRemoved)).not.toContain(registered.imageId);
    expect(ids(dry.orphansKeptYoung)).toContain(young.imageId);
    expect(await imageExists(host.docker, old.imageId)).toBe(true);

    const report = await host.reconcile({ orphanGraceSeconds: 12, dryRun: false });
    expect(report.error).toBeNull();
    expect(ids(report.orphansRemoved)).toContain(old.imageId);
    expect(report.orphansRemoved.find((i) => i.imageId === old.imageId)).toMatchObject({
      projectId: old.ids.projectId,
      workItemId: old.ids.workItemId,
    });
    expect(ids(report.orphansKeptYoung)).toContain(young.imageId);
    expect(report.owned).toBeGreaterThanOrEqual(1);
    expect(report.managedImages).toBeGreaterThanOrEqual(3);
    expect(report.counts.orphansRemoved).toBe(report.orphansRemoved.length);
    expect(report.counts.orphanBytesRemoved).toBeGreaterThan(0);
    expect(await imageExists(host.docker, old.imageId)).toBe(false);
    expect(await imageExists(host.docker, young.imageId)).toBe(true);
    expect(await imageExists(host.docker, registered.imageId)).toBe(true);
    expect(await imageExists(host.docker, unlabelled.imageId)).toBe(true);
    expect(await imageExists(host.docker, host.canaryImageId)).toBe(true);
    expect(await imageExists(host.docker, host.baseImageId)).toBe(true);

    // The registered image is still its workflow's and still active.
    expect((await host.service.lookup(registered.ids.projectId, registered.ids.workItemId))?.imageId).toBe(
      registered.imageId,
    );
    // The run was logged as metrics of the host's worker.
    const text = await host.metrics.registry.metrics();
    expect(text).toMatch(
      new RegExp(
        `snapkeeper_reconcile_orphans_removed_total\\{host="${host.hostId}",dry_run="false"\\} [1-9]`,
      ),
    );
  });

  it('owns an image registered a moment ago, before visibility shows it (grace 0)', async () => {
    const fresh = await orphan('fresh');
    await host.service.register({ ...fresh.ids, image: fresh.image, host: host.hostId });
    const report = await host.reconcile({ orphanGraceSeconds: 0, dryRun: false });
    expect(ids(report.orphansRemoved)).not.toContain(fresh.imageId);
    expect(await imageExists(host.docker, fresh.imageId)).toBe(true);
    expect((await host.service.lookup(fresh.ids.projectId, fresh.ids.workItemId))?.state).toBe('active');
  });

  it('removes an image of a work item whose open workflow holds another image', async () => {
    const held = await orphan('pair');
    await host.service.register({ ...held.ids, image: held.image, host: host.hostId });
    // Committed with the same labels but never registered: the workflow does not want it.
    const stray = await makeSnapshotImage(host.docker, { ...held.ids, labels: 'managed' });
    await olderThan(stray.imageId, 1);
    const report = await host.reconcile({ orphanGraceSeconds: 1, dryRun: false });
    expect(ids(report.orphansRemoved)).toContain(stray.imageId);
    expect(await imageExists(host.docker, stray.imageId)).toBe(false);
    expect(await imageExists(host.docker, held.imageId)).toBe(true);
  });

  it("never removes another host id's images from a shared engine", async () => {
    const mine = await orphan('shared');
    await host.service.register({ ...mine.ids, image: mine.image, host: host.hostId });
    await olderThan(mine.imageId, 1);
    const twin = await startTestHost({ name: 'twin', engineOf: host });
    try {
      const report = await twin.reconcile({ orphanGraceSeconds: 0, dryRun: false });
      expect(ids(report.orphansRemoved)).not.toContain(mine.imageId);
      expect(report.owned).toBeGreaterThanOrEqual(1);
      expect(await imageExists(host.docker, mine.imageId)).toBe(true);
    } finally {
      await twin.stop();
    }
  });

  it('reports an orphan a container uses as blocked, never forces, and removes it once the container is gone', async () => {
    const used = await orphan('used');
    const container = await runContainerFrom(host.docker, used.image);
    try {
      await olderThan(used.imageId, 1);
      const report = await host.reconcile({ orphanGraceSeconds: 1, dryRun: false });
      const blocked = report.blocked.find((b) => b.imageId === used.imageId);
      expect(blocked?.reason).toMatch(/in use by container/);
      expect(blocked?.holders).toEqual([container.id]);
      expect(await imageExists(host.docker, used.imageId)).toBe(true);
      // Fenced by the reconciler: a late registration of this orphan is refused, not raced.
      const late = await host.service
        .register({ ...used.ids, image: used.image, host: host.hostId })
        .catch((e: unknown) => e);
      expect(late).toMatchObject({
        type: 'InvalidRequest',
        message: expect.stringContaining('being removed by the reconciler'),
      });
    } finally {
      await container.stop();
    }
    const after = await host.reconcile({ orphanGraceSeconds: 1, dryRun: false });
    expect(ids(after.orphansRemoved)).toContain(used.imageId);
    expect(await imageExists(host.docker, used.imageId)).toBe(false);
  });

  it('ends the workflow of an image someone removed with docker rmi, as removed with reason vanished', async () => {
    const gone = await orphan('vanish');
    await host.service.register({ ...gone.ids, image: gone.image, host: host.hostId });
    await host.docker.getImage(gone.image).remove();
    expect(await imageExists(host.docker, gone.imageId)).toBe(false);

    const workflowId = snapshotWorkflowId(gone.ids.projectId, gone.ids.workItemId);
    const dry = await host.reconcile({ orphanGraceSeconds: 600, dryRun: true });
    expect(dry.vanished.map((v) => v.workflowId)).toContain(workflowId);
    expect((await host.client.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');

    // Visibility may lag behind the registration; the next runs find it.
    await waitFor(
      async () => {
        const report = await host.reconcile({ orphanGraceSeconds: 600, dryRun: false });
        return report.vanished.some((v) => v.workflowId === workflowId && v.imageId === gone.imageId);
      },
      { ...DEADLINE, message: 'the reconciler did not report the vanished image' },
    );
    const result = await host.client.workflow.getHandle(workflowId).result();
    expect(result.last).toMatchObject({ imageId: gone.imageId, state: 'removed', endReason: 'vanished' });
    expect(result.last.message).toMatch(/vanished from host/);
  });

  it('npm run reconcile -- --dry-run prints the report as JSON and removes nothing', async () => {
    const stale = await orphan('script');
    await olderThan(stale.imageId, 1);
    const { stdout } = await exec(
      'npx',
      ['tsx', 'scripts/reconcile.ts', '--dry-run', '--host', host.hostId, '--grace', '1s'],
      {
        cwd: repoPath(),
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/root',
          TEMPORAL_ADDRESS: testEnv().temporalAddress,
          SNAPKEEPER_LOG_LEVEL: 'warn',
        },
        timeout: 120_000,
      },
    );
    const result = JSON.parse(stdout) as ReconcileResult;
    expect(result.reports).toHaveLength(1);
    expect(result.reports[0]).toMatchObject({ host: host.hostId, dryRun: true, error: null });
    expect(ids(result.reports[0]?.orphansRemoved ?? [])).toContain(stale.imageId);
    expect(await imageExists(host.docker, stale.imageId)).toBe(true);
  });

  it('reports a host whose Docker worker is down instead of hanging', async () => {
    const result = await host.client.workflow.execute('reconcileWorkflow', {
      workflowId: `test-reconcile-nohost-${Date.now()}`,
      taskQueue: 'snapkeeper',
      args: [{ hosts: ['no-such-host-x'], orphanGraceSeconds: 600, dryRun: true, hostTimeoutSeconds: 3 }],
      workflowExecutionTimeout: '5 minutes',
    });
    expect((result as ReconcileResult).reports[0]?.error).toMatch(/ScheduleToStart/);
  });
});
