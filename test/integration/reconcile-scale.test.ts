// The reconciler on a host with 20,000 managed images: a fake engine (what is measured is what goes
// through Temporal), the real dev server, the real workers and workflows in this process.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapLimit } from '../../src/service/map-limit.js';
import { WORKFLOW_TASK_QUEUE } from '../../src/contract/names.js';
import type { reconcileWorkflow } from '../../src/workflows/reconcile/workflow.js';
import { REPORT_LIST_LIMIT } from '../../src/contract/reconcile-types.js';
import type { FakeHost } from './fake-host-fixture.js';
import { addManagedImage, historyStats, startFakeHost } from './fake-host-fixture.js';

const IMAGES = Number(process.env.SNAPKEEPER_SCALE_IMAGES ?? 20_000);
const REGISTERED = 60;
const VANISHED = 2;
const TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024;

let host: FakeHost;

// Minutes long (20,000 images): run with SNAPKEEPER_SCALE_TESTS=1, as docs/operations.md says.
describe.skipIf(process.env.SNAPKEEPER_SCALE_TESTS !== '1')('reconciler at the size of a large host', () => {
  beforeAll(async () => {
    host = await startFakeHost({ name: 'rscale' });
  });

  afterAll(async () => {
    await host?.stop();
  });

  it(`decides on ${IMAGES} managed images in pages, continuing as new, with bounded payloads and histories`, async () => {
    const run = randomBytes(3).toString('hex');
    // Registered snapshots (real snapshot workflows), then orphans: labelled for work items that
    // have no workflow, as after a crash between commit and registration.
    const registered = await mapLimit(
      Array.from({ length: REGISTERED }, (_, i) => i),
      6,
      async (i) => {
        const ids = { projectId: `scale-${run}`, workItemId: `owned-${i}` };
        const { image, imageId } = addManagedImage(host.docker, i, ids, 3600);
        await host.service.register({ ...ids, image, host: host.hostId });
        return { ...ids, image, imageId };
      },
    );
    for (let i = REGISTERED; i < IMAGES; i++) {
      addManagedImage(
        host.docker,
        i,
        { projectId: `scale-${run}-${i % 40}`, workItemId: `orphan-${i}` },
        3600,
      );
    }
    // Removed behind snapkeeper's back: their workflows must be told.
    for (const v of registered.slice(0, VANISHED)) await host.docker.removeImage(v.imageId);
    expect(host.docker.images.size).toBe(IMAGES - VANISHED);

    const started = Date.now();
    const workflowId = `test-reconcile-scale-${host.hostId}`;
    const result = await host.client.workflow.execute<typeof reconcileWorkflow>('reconcileWorkflow', {
      workflowId,
      taskQueue: WORKFLOW_TASK_QUEUE,
      args: [{ hosts: [host.hostId], orphanGraceSeconds: 600, dryRun: false }],
      workflowExecutionTimeout: '20 minutes',
    });
    const seconds = (Date.now() - started) / 1000;
    const report = result.reports[0];
    expect(report?.error).toBeNull();
    expect(report?.managedImages).toBe(IMAGES - VANISHED);
    expect(report?.owned).toBe(REGISTERED - VANISHED);
    expect(report?.counts.orphansRemoved).toBe(IMAGES - REGISTERED);
    expect(report?.counts.vanished).toBe(VANISHED);
    expect(report?.vanished.map((v) => v.imageId).sort()).toEqual(
      registered
        .slice(0, VANISHED)
        .map((r) => r.imageId)
        .sort(),
    );
    expect(report?.orphansRemoved).toHaveLength(Math.min(REPORT_LIST_LIMIT, IMAGES - REGISTERED));
    // What is left on the engine is exactly what open workflows own.
    expect(host.docker.images.size).toBe(REGISTERED - VANISHED);
    for (const r of registered.slice(VANISHED)) expect(host.docker.images.has(r.imageId)).toBe(true);

    // Every payload and every history stays bounded whatever the host holds.
    const child = await historyStats(host.client, `${workflowId}/${host.hostId}`);
    const parent = await historyStats(host.client, workflowId);
    expect(child.runs).toBeGreaterThan(1);
    expect(report?.generations).toBe(child.runs - 1);
    expect(child.maxEvents).toBeLessThan(2600);
    expect(child.maxEventBytes).toBeLessThan(TEMPORAL_PAYLOAD_LIMIT / 4);
    expect(child.maxRunBytes).toBeLessThan(8 * 1024 * 1024);
    expect(parent.maxEventBytes).toBeLessThan(TEMPORAL_PAYLOAD_LIMIT / 4);
    console.info(
      `reconcile of ${IMAGES} managed images (${IMAGES - REGISTERED} orphans removed): ${seconds.toFixed(1)} s; ` +
        `host run: ${child.runs} runs, at most ${child.maxEvents} events / ${child.maxRunBytes} bytes per run, ` +
        `largest event ${child.maxEventBytes} bytes; parent: largest event ${parent.maxEventBytes} bytes; ` +
        `engine calls: ${JSON.stringify(host.docker.counters)}`,
    );
  }, 1_200_000);
});
