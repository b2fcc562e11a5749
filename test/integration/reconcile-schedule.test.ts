import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureReconcileSchedule } from '../../src/worker/ensure-reconcile-schedule.js';
import type { ReconcileResult } from '../../src/workflows/reconcile-types.js';
import { reconcileScheduleId } from '../../src/workflows/upkeep-names.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
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
    const changed = { hostId: host.hostId, intervalMs: 90_000, orphanGraceSeconds: 1 };
    expect(await ensureReconcileSchedule(host.client, changed)).toBe('updated');
    expect(await ensureReconcileSchedule(host.client, changed)).toBe('unchanged');
    const description = await host.client.schedule.getHandle(reconcileScheduleId(host.hostId)).describe();
    expect(Number(description.spec.intervals?.[0]?.every)).toBe(90_000);
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
    await handle.trigger();
    const action = await waitFor(async () => (await handle.describe()).info.recentActions.at(-1), {
      timeoutMs: 30_000,
      message: 'the schedule took no action',
    });
    const run = host.client.workflow.getHandle(action.action.workflow.workflowId);
    const result = (await run.result()) as ReconcileResult;
    expect(result.reports.map((r) => r.host)).toEqual([host.hostId]);
    expect(result.reports[0]?.orphansRemoved.map((i) => i.imageId)).toContain(orphan.imageId);
    expect(await imageExists(host.docker, orphan.imageId)).toBe(false);
  });
});
