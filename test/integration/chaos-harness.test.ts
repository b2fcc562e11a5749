// The chaos run's own drain and audit, on the real dev server and engine: each found a defect of
// the harness, not of snapkeeper, and each test below builds the state that exposed it.
//
// Drain: the full run of seed 20261128 reported four snapshot workflows "still open after their
// cancellation": their histories show each cancellation requested and the workflow closed 4 s
// later, one workflow task after its image left the disk. The drain had judged in that gap: it
// stopped waiting once the images were gone and looked for open workflows at once. The first test
// holds a snapshot workflow in exactly that state (image gone, workflow not yet closed) for as long
// as its worker is away.
//
// Audit: the full run of seed 2017314820 (on PostgreSQL) reported three "not accounted" images,
// each the first snapshot of a `replace` lifecycle: the next job had been committed from it (a
// child sharing its layers), someone else had tagged that child, so the child was kept, and the
// engine cannot remove an image whose layers a child needs. snapkeeper untags such a parent and it
// goes with its last child; the audit's leak check knew that, its accounting did not. The second
// test builds exactly that state.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import { audit, drain } from '../chaos/audit.js';
import type { Registration } from '../chaos/ledger.js';
import { createLedger } from '../chaos/ledger.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { stepTimeline } from '../support/step-timeline.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';

const HOST = `drain-${randomUUID().slice(0, 8)}`;
const AUDIT_HOST = `audit-${randomUUID().slice(0, 8)}`;

let docker: Dockerode;
let connection: Connection;
let client: Client;
let worker: InProcessWorker | undefined;

beforeAll(async () => {
  docker = newDocker();
  connection = await Connection.connect({ address: testEnv().temporalAddress });
  client = new Client({ connection });
});

afterAll(async () => {
  await worker?.stop();
  await connection?.close();
});

describe('chaos harness', () => {
  it('waits for a cancelled snapshot workflow to close after its image has left the disk', async () => {
    // Every wait below is bounded well inside the test's timeout, so a slow step fails with the
    // time each step took (the drain's own verdict included) rather than with a bare timeout.
    const { step } = stepTimeline(240_000);
    const ids = uniqueIds('drain');
    const handle = client.workflow.getHandle(snapshotWorkflowId(ids.projectId, ids.workItemId));
    const first = await step('start worker', () => startInProcessWorker({ hostId: HOST }));
    worker = first;
    const img = await step('commit image', () => makeSnapshotImage(docker, ids));
    await step('register', () => first.service.register({ ...ids, image: img.image, host: HOST }));
    // Stopped with no task in hand: a workflow task held by the stopping worker would delay the
    // cancellation below by its 10 s timeout.
    await step('settle', () =>
      waitFor(
        async () => {
          const d = await handle.describe();
          return !d.raw.pendingWorkflowTask && (d.raw.pendingActivities ?? []).length === 0;
        },
        { timeoutMs: 30_000, message: 'the registered workflow did not settle' },
      ),
    );
    await step('stop worker', () => first.stop());
    worker = undefined;
    // Gone from the disk, as in the moment after the cleanup's last activity.
    await step('remove image', () => docker.getImage(img.imageId).remove({ force: true }));

    const ledger = createLedger(ids.projectId);
    ledger.registrations.push({
      lifecycle: 0,
      kind: 'cancel',
      host: HOST,
      ...ids,
      image: img.image,
      imageId: img.imageId,
      acknowledged: true,
      answers: ['201 created'],
      expect: 'gone',
    });
    const drained = drain({ hosts: [{ id: HOST, docker }], client }, ledger, 120_000);
    await step('cancel', () =>
      waitFor(
        async () => {
          const history = await handle.fetchHistory();
          return history.events?.some((e) => e.workflowExecutionCancelRequestedEventAttributes);
        },
        { timeoutMs: 60_000, message: 'the drain did not cancel the workflow' },
      ),
    );
    // The workflow can close only once its host's worker is back to run the (idempotent) cleanup.
    worker = await step('restart worker', () => startInProcessWorker({ hostId: HOST }));

    expect(await step('drain', () => drained)).toEqual([]);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(await imageExists(docker, img.imageId)).toBe(false);
  }, 300_000);

  it('accounts for a replaced snapshot that stays only as the layers of a child someone else keeps', async () => {
    const ids = uniqueIds('audit');
    const auditWorker = await startInProcessWorker({ hostId: AUDIT_HOST });
    try {
      const service = auditWorker.service;
      const first = await makeSnapshotImage(docker, ids);
      expect((await service.register({ ...ids, image: first.image, host: AUDIT_HOST })).outcome).toBe(
        'created',
      );
      const child = await makeSnapshotImage(docker, { ...ids, fromImage: first.image });
      expect((await service.register({ ...ids, image: child.image, host: AUDIT_HOST })).outcome).toBe(
        'replaced',
      );
      const foreignTag = `l0-${randomUUID().slice(0, 6)}`;
      await docker.getImage(child.imageId).tag({ repo: 'chaos-someone/kept', tag: foreignTag });
      expect(await service.invalidate(ids.projectId, ids.workItemId, 'audit test')).toBe(true);
      const handle = client.workflow.getHandle(snapshotWorkflowId(ids.projectId, ids.workItemId));
      await waitFor(async () => (await handle.describe()).status.name !== 'RUNNING', {
        timeoutMs: 90_000,
        message: 'the snapshot workflow to end',
      });
      // The premise: the engine keeps the first image, untagged, under the kept child.
      expect(await imageExists(docker, first.imageId)).toBe(true);
      expect(await imageExists(docker, child.imageId)).toBe(true);

      const ledger = createLedger(ids.projectId);
      const registration = (image: typeof first, extra: Partial<Registration> = {}): Registration => ({
        lifecycle: 0,
        kind: 'replace',
        host: AUDIT_HOST,
        ...ids,
        image: image.image,
        imageId: image.imageId,
        acknowledged: true,
        answers: ['201 created'],
        expect: 'gone',
        ...extra,
      });
      ledger.registrations.push(
        registration(first),
        registration(child, { foreignTag: `chaos-someone/kept:${foreignTag}` }),
      );
      const env = testEnv();
      const result = await audit(
        {
          hosts: [{ id: AUDIT_HOST, docker, baseImageId: env.baseImageId, canaryImageId: env.canaryImageId }],
          client,
        },
        ledger,
        { reports: [] },
      );
      // The shared engine holds other files' images and not the chaos run's base images: only this
      // work item's lines count here.
      expect(result.violations.filter((v) => v.includes(ids.workItemId))).toEqual([]);
      expect(result.facts.acknowledgedUnderChild).toBe(1);
      expect(result.facts.keptForOthers).toBeGreaterThanOrEqual(1);

      await docker.getImage(`chaos-someone/kept:${foreignTag}`).remove();
    } finally {
      await auditWorker.stop();
    }
  }, 240_000);
});
