import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../scripts/lib/free-port.js';
import { ensureReconcileSchedule } from '../../src/worker/ensure-reconcile-schedule.js';
import type { ReconcileResult } from '../../src/contract/reconcile-types.js';
import { budgetWorkflowId, reconcileScheduleId } from '../../src/contract/names.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { startWorkerProcess } from '../support/worker-process.js';
import type { TestHost } from './reconcile-fixture.js';
import { imageAgeSeconds, startTestHost } from './reconcile-fixture.js';

let host: TestHost;

beforeAll(async () => {
  host = await startTestHost({ name: 'schedule' });
});

afterAll(async () => {
  await host?.client.schedule
    .getHandle(reconcileScheduleId(host.hostId))
    .delete()
    .catch(() => undefined);
  await host?.stop();
});

describe('reconcile schedule', () => {
  it('is created once per host and left alone when the worker starts again with the same settings', async () => {
    const settings = { hostId: host.hostId, intervalMs: 5 * 60_000, orphanGraceSeconds: 600 };
    expect(await ensureReconcileSchedule(host.client, settings)).toBe('created');
    expect(await ensureReconcileSchedule(host.client, settings)).toBe('unchanged');
    // Two workers of one host starting at once.
    const both = await Promise.all([
      ensureReconcileSchedule(host.client, settings),
      ensureReconcileSchedule(host.client, settings),
    ]);
    expect(both).toEqual(['unchanged', 'unchanged']);

    const description = await host.client.schedule.getHandle(reconcileScheduleId(host.hostId)).describe();
    expect(description.spec.intervals).toHaveLength(1);
    expect(Number(description.spec.intervals?.[0]?.every)).toBe(5 * 60_000);
    expect(description.policies.overlap).toBe('SKIP');
    expect(description.action).toMatchObject({
      workflowType: 'reconcileWorkflow',
      taskQueue: 'snapkeeper',
      args: [{ hosts: [host.hostId], orphanGraceSeconds: 600, dryRun: false }],
    });
    let count = 0;
    for await (const s of host.client.schedule.list())
      if (s.scheduleId === reconcileScheduleId(host.hostId)) count++;
    expect(count).toBe(1);
  });

  it('is updated when the interval or the grace changes', async () => {
    // Intervals are aligned to the epoch: a long one keeps the schedule from firing on its own here.
    const changed = { hostId: host.hostId, intervalMs: 6 * 3_600_000, orphanGraceSeconds: 1 };
    expect(await ensureReconcileSchedule(host.client, changed)).toBe('updated');
    expect(await ensureReconcileSchedule(host.client, changed)).toBe('unchanged');
    const description = await host.client.schedule.getHandle(reconcileScheduleId(host.hostId)).describe();
    expect(Number(description.spec.intervals?.[0]?.every)).toBe(6 * 3_600_000);
    expect(description.action.args).toEqual([{ hosts: [host.hostId], orphanGraceSeconds: 1, dryRun: false }]);
    expect(description.policies.overlap).toBe('SKIP');
  });

  it('runs reconcileWorkflow for its host, which removes an orphan', async () => {
    const ids = uniqueIds('sched');
    const orphan = await makeSnapshotImage(host.docker, { ...ids, labels: 'managed' });
    await waitFor(async () => (await imageAgeSeconds(host.docker, orphan.imageId)) > 1, {
      timeoutMs: 15_000,
      message: 'orphan did not age',
    });
    const handle = host.client.schedule.getHandle(reconcileScheduleId(host.hostId));
    const earlier = new Set(
      (await handle.describe()).info.recentActions.map((a) => a.action.workflow.workflowId),
    );
    await handle.trigger();
    // The triggered run (or, should the interval come round meanwhile, a scheduled one) removes it.
    await waitFor(async () => !(await imageExists(host.docker, orphan.imageId)), {
      timeoutMs: 60_000,
      message: 'no scheduled reconcile removed the orphan',
    });
    const runs = (await handle.describe()).info.recentActions
      .map((a) => a.action.workflow.workflowId)
      .filter((id) => !earlier.has(id));
    expect(runs.length).toBeGreaterThan(0);
    const results = await Promise.all(
      runs.map((id) => host.client.workflow.getHandle(id).result() as Promise<ReconcileResult>),
    );
    for (const r of results) expect(r.reports.map((x) => x.host)).toEqual([host.hostId]);
    const removed = results.flatMap((r) => r.reports.flatMap((x) => x.orphansRemoved.map((i) => i.imageId)));
    expect(removed).toContain(orphan.imageId);
  });

  it('the worker process makes its schedule at start-up, once, and serves its metrics', async () => {
    const hostId = `proc-${randomBytes(4).toString('hex')}`;
    const scheduleId = reconcileScheduleId(hostId);
    const lines: string[] = [];
    const start = async () => {
      const port = await findFreePort();
      const worker = await startWorkerProcess({
        env: {
          TEMPORAL_ADDRESS: testEnv().temporalAddress,
          DOCKER_HOST: host.dockerHost,
          SNAPKEEPER_HOST_ID: hostId,
          SNAPKEEPER_RECONCILE_INTERVAL: '7m',
          SNAPKEEPER_ORPHAN_GRACE: '20m',
          SNAPKEEPER_WORKER_METRICS_PORT: String(port),
        },
        onLine: (line) => lines.push(line),
      });
      await worker.waitReady();
      return { worker, port };
    };
    try {
      const first = await start();
      const metrics = await fetch(`http://127.0.0.1:${first.port}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('snapkeeper_worker_process_cpu_seconds_total');
      await first.worker.stop();
      const second = await start();
      await second.worker.stop();

      const outcomes = lines.filter((l) => l.includes('reconcile schedule ensured'));
      expect(outcomes).toHaveLength(2);
      expect(outcomes[0]).toContain('"outcome":"created"');
      expect(outcomes[1]).toContain('"outcome":"unchanged"');
      const description = await host.client.schedule.getHandle(scheduleId).describe();
      expect(Number(description.spec.intervals?.[0]?.every)).toBe(7 * 60_000);
      expect(description.action.args).toEqual([{ hosts: [hostId], orphanGraceSeconds: 1200, dryRun: false }]);
    } finally {
      await host.client.schedule
        .getHandle(scheduleId)
        .delete()
        .catch(() => undefined);
      await host.client.workflow
        .getHandle(budgetWorkflowId(hostId))
        .terminate('test done')
        .catch(() => undefined);
    }
  });
});
