// The chaos run's drain on the real dev server and engine. The full run of seed 20261128 reported
// four snapshot workflows "still open after their cancellation": their histories show each
// cancellation requested and the workflow closed 4 s later, one workflow task after its image
// left the disk. The drain had judged in that gap: it stopped waiting once the images were gone
// and looked for open workflows at once. This file holds a snapshot workflow in exactly that state
// (image gone, workflow not yet closed) for as long as its worker is away.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import { drain } from '../chaos/audit.js';
import { createLedger } from '../chaos/ledger.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';

const HOST = `drain-${randomUUID().slice(0, 8)}`;

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

describe('chaos drain', () => {
  it('waits for a cancelled snapshot workflow to close after its image has left the disk', async () => {
    const ids = uniqueIds('drain');
    worker = await startInProcessWorker({ hostId: HOST });
    const img = await makeSnapshotImage(docker, ids);
    await worker.service.register({ ...ids, image: img.image, host: HOST });
    await worker.stop();
    worker = undefined;
    // Gone from the disk, as in the moment after the cleanup's last activity.
    await docker.getImage(img.imageId).remove({ force: true });

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
    const handle = client.workflow.getHandle(snapshotWorkflowId(ids.projectId, ids.workItemId));
    const drained = drain({ hosts: [{ id: HOST, docker }], client }, ledger, 150_000);
    await waitFor(
      async () => {
        const history = await handle.fetchHistory();
        return history.events?.some((e) => e.workflowExecutionCancelRequestedEventAttributes);
      },
      { timeoutMs: 60_000, message: 'the drain did not cancel the workflow' },
    );
    // The workflow can close only once its host's worker is back to run the (idempotent) cleanup.
    worker = await startInProcessWorker({ hostId: HOST });

    expect(await drained).toEqual([]);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(await imageExists(docker, img.imageId)).toBe(false);
  }, 300_000);
});
