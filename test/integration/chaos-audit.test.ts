// The chaos run's audit on the real dev server and engine. The full run of seed 2017314820 (on
// PostgreSQL) reported three "not accounted" images, each the first snapshot of a `replace`
// lifecycle: the next job had been committed from it (a child sharing its layers), someone else
// had tagged that child, so the child was kept, and the engine cannot remove an image whose layers
// a child needs. snapkeeper untags such a parent and it goes with its last child; the audit's leak
// check knew that, its accounting did not. This file builds exactly that state.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import { audit } from '../chaos/audit.js';
import type { Registration } from '../chaos/ledger.js';
import { createLedger } from '../chaos/ledger.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';

const HOST = `audit-${randomUUID().slice(0, 8)}`;

let docker: Dockerode;
let connection: Connection;
let client: Client;
let worker: InProcessWorker | undefined;

beforeAll(async () => {
  docker = newDocker();
  connection = await Connection.connect({ address: testEnv().temporalAddress });
  client = new Client({ connection });
  worker = await startInProcessWorker({ hostId: HOST });
});

afterAll(async () => {
  await worker?.stop();
  await connection?.close();
});

describe('chaos audit', () => {
  it('accounts for a replaced snapshot that stays only as the layers of a child someone else keeps', async () => {
    const ids = uniqueIds('audit');
    const service = (worker as InProcessWorker).service;
    const first = await makeSnapshotImage(docker, ids);
    expect((await service.register({ ...ids, image: first.image, host: HOST })).outcome).toBe('created');
    const child = await makeSnapshotImage(docker, { ...ids, fromImage: first.image });
    expect((await service.register({ ...ids, image: child.image, host: HOST })).outcome).toBe('replaced');
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
      host: HOST,
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
        hosts: [{ id: HOST, docker, baseImageId: env.baseImageId, canaryImageId: env.canaryImageId }],
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
  }, 240_000);
});
