import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotService } from '../../src/service/snapshot-service.js';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import { TEST_WORKFLOW_OPTIONS } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import type { TestTemporal } from '../support/test-temporal.js';
import { startTestTemporal } from '../support/test-temporal.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { WorkerProcess } from '../support/worker-process.js';
import { startWorkerProcess } from '../support/worker-process.js';

// This file owns a Temporal server of its own, of the run's kind (a dev server restarted from its
// SQLite file, or the server on PostgreSQL, restarted and crashed), and a worker process (killed
// with SIGKILL), so nothing else on the shared server can do the work in its place.
const HOST = `durable-${randomUUID().slice(0, 8)}`;
const DEADLINE = { timeoutMs: 90_000 };

let dir: string;
let server: TestTemporal;
let worker: WorkerProcess | undefined;
let connection: Connection;
let service: SnapshotService;
let docker: Dockerode;

function workerEnv(): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: server.address,
    DOCKER_HOST: testEnv().dockerHost,
    SNAPKEEPER_HOST_ID: HOST,
    SNAPKEEPER_LOG_LEVEL: 'info',
    SNAPKEEPER_RECONCILE_INTERVAL: '24h',
  };
}

async function connect(): Promise<void> {
  connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  service = createSnapshotService({
    client,
    defaultTtlSeconds: 3600,
    workflowOptions: TEST_WORKFLOW_OPTIONS,
  });
}

beforeAll(async () => {
  docker = newDocker();
  dir = await mkdtemp(join(tmpdir(), 'snapkeeper-durability-'));
  if (testEnv().temporalKind === 'cluster') await chmod(dir, 0o711);
  server = await startTestTemporal({
    kind: testEnv().temporalKind,
    dir: join(dir, 'temporal'),
    temporalCliPath: testEnv().temporalCliPath,
  });
  worker = await startWorkerProcess({ env: workerEnv() });
  await worker.waitReady();
  await connect();
});

afterAll(async () => {
  await worker?.stop();
  await connection?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function register(prefix: string, ttlSeconds?: number) {
  const ids = uniqueIds(prefix);
  const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
  const result = await service.register({
    ...ids,
    image: img.image,
    host: HOST,
    ...(ttlSeconds ? { ttlSeconds } : {}),
  });
  expect(result.outcome).toBe('created');
  return { ids, img, result };
}

async function waitGone(imageId: string, what: string) {
  await waitFor(async () => !(await imageExists(docker, imageId)), {
    ...DEADLINE,
    message: `${what}: ${imageId} still there`,
  });
}

describe('durability', () => {
  it('a worker killed with SIGKILL while snapshots wait: merges and TTLs still remove the images', async () => {
    const merged = await register('kill-merge');
    const expiring = await register('kill-ttl', 5);
    await worker?.kill9();
    worker = undefined;

    // Both endings happen while no worker runs: the merge is recorded, the timer fires on the server.
    await service.merged(merged.ids.projectId, merged.ids.workItemId, { deliveryId: randomUUID() });
    await waitFor(async () => Date.now() > Date.parse(expiring.result.snapshot.expiresAt) + 1000, {
      timeoutMs: 30_000,
      message: 'TTL never passed',
    });
    expect(await imageExists(docker, merged.img.imageId)).toBe(true);
    expect(await imageExists(docker, expiring.img.imageId)).toBe(true);

    worker = await startWorkerProcess({ env: workerEnv() });
    await worker.waitReady();
    await waitGone(merged.img.imageId, 'merge after restart');
    await waitGone(expiring.img.imageId, 'TTL after restart');
  });

  it('the Temporal server restarted on its persistence (SQLite file or PostgreSQL): the workflows carry on', async () => {
    const waiting = await register('restart-merge');
    const expiring = await register('restart-ttl', 20);
    await worker?.stop();
    worker = undefined;
    await connection.close();

    await server.restart();

    await connect();
    worker = await startWorkerProcess({ env: workerEnv() });
    await worker.waitReady();
    const view = await service.view(waiting.ids.projectId, waiting.ids.workItemId);
    expect(view?.current?.imageId).toBe(waiting.img.imageId);
    await service.merged(waiting.ids.projectId, waiting.ids.workItemId, { deliveryId: randomUUID() });
    await waitGone(waiting.img.imageId, 'merge after server restart');
    await waitGone(expiring.img.imageId, 'TTL across server restart');
  });

  // A crash only of the production-shaped server: the dev server's SQLite file is not crash-safe storage.
  it.runIf(testEnv().temporalKind === 'cluster')(
    'the Temporal server killed with SIGKILL right after acknowledging: nothing acknowledged is lost',
    async () => {
      const merged = await register('crash-merge');
      const expiring = await register('crash-ttl', 10);
      const replaced = await register('crash-replace');
      // Acknowledged just now; the crash comes before anything else can happen.
      const replacement = await makeSnapshotImage(docker, { ...replaced.ids, labels: 'managed' });
      const second = await service.register({ ...replaced.ids, image: replacement.image, host: HOST });
      expect(second.outcome).toBe('replaced');
      await connection.close();

      await server.restart({ signal: 'SIGKILL' });

      await connect();
      await service.merged(merged.ids.projectId, merged.ids.workItemId, { deliveryId: randomUUID() });
      await waitGone(merged.img.imageId, 'merge after a server crash');
      await waitGone(expiring.img.imageId, 'TTL across a server crash');
      await waitGone(replaced.img.imageId, 'replacement across a server crash');
      const view = await service.view(replaced.ids.projectId, replaced.ids.workItemId);
      expect(view?.current?.imageId).toBe(replacement.imageId);
      await service.invalidate(replaced.ids.projectId, replaced.ids.workItemId, 'test done');
      await waitGone(replacement.imageId, 'invalidate after a server crash');
    },
  );
});
