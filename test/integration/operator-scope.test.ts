// Operator actions name the image they mean (issue 17): `snapkeeper drain-host` reads its targets
// from visibility, which trails the workflows. A snapshot re-registered on another host after the
// listing was read must survive the drain, in both modes; the snapshots still on the host end.
// Real Temporal server and Docker engine; the lag of visibility is made certain by serving the
// drain its first listing as it was read before the re-registration.
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import { drainHost } from '../../src/service/drain-host.js';
import { listSnapshots } from '../../src/service/list-snapshots.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { startTestHost } from './reconcile-fixture.js';

const DEADLINE = { timeoutMs: 60_000 };
const hosts: TestHost[] = [];

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

async function host(name: string): Promise<TestHost> {
  // The shared engine: two host ids, each with its own Docker worker, on one engine.
  const h = await startTestHost({ name, privateEngine: false });
  hosts.push(h);
  return h;
}

type ListResponse = Awaited<ReturnType<Client['workflowService']['listWorkflowExecutions']>>;

/**
 * The client with visibility as it was when `stale` was read, for the first listing only; every
 * other call (describe, query, signal, terminate, later listings) goes to the server.
 */
function withStaleFirstListing(client: Client, stale: ListResponse): Client {
  let served = false;
  const service = new Proxy(client.workflowService, {
    get(target, prop, receiver) {
      if (prop === 'listWorkflowExecutions' && !served) {
        return async () => {
          served = true;
          return stale;
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const stub = Object.create(client) as Client;
  Object.defineProperty(stub, 'workflowService', { value: service });
  return stub;
}

/** The listing of the host the drain is about to make, as visibility answers it now. */
async function listingNow(client: Client, hostId: string): Promise<ListResponse> {
  let captured: ListResponse | undefined;
  const recorder = new Proxy(client.workflowService, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop === 'listWorkflowExecutions' && typeof value === 'function') {
        return async (req: unknown) => {
          captured = (await value.call(target, req)) as ListResponse;
          return captured;
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const stub = Object.create(client) as Client;
  Object.defineProperty(stub, 'workflowService', { value: recorder });
  await listSnapshots(stub, { host: hostId, pageSize: 200 });
  if (!captured) throw new Error('no listing captured');
  return captured;
}

async function registerOn(h: TestHost, ids: { projectId: string; workItemId: string }) {
  const img = await makeSnapshotImage(h.docker, { ...ids, labels: 'managed' });
  await h.service.register({ ...ids, image: img.image, host: h.hostId });
  return img;
}

async function visibleOn(h: TestHost, workItemIds: string[]) {
  await waitFor(
    async () => {
      const page = await listSnapshots(h.client, { host: h.hostId, pageSize: 200 });
      return workItemIds.every((w) => page.items.some((i) => i.workItemId === w && i.state === 'active'));
    },
    { ...DEADLINE, message: `visibility did not show ${workItemIds.join(', ')} on ${h.hostId}` },
  );
}

describe('drain-host acts on the image it read, never on one registered since', () => {
  let other: TestHost;
  beforeAll(async () => {
    other = await host('scope-other');
  });

  it('remove: a snapshot re-registered on another host after the listing survives; the host’s own ends', async () => {
    const drained = await host('scope-drain');
    const moved = uniqueIds('scope-moved');
    const stays = uniqueIds('scope-stays');
    const first = await registerOn(drained, moved);
    const own = await registerOn(drained, stays);
    await visibleOn(drained, [moved.workItemId, stays.workItemId]);
    const stale = await listingNow(drained.client, drained.hostId);

    // After the drain's listing: the work item gets a new snapshot on the other host.
    const next = await registerOn(other, moved);
    await waitFor(async () => !(await imageExists(drained.docker, first.imageId)), {
      ...DEADLINE,
      message: 'the replaced image did not leave',
    });

    const result = await drainHost(
      { client: withStaleFirstListing(drained.client, stale), service: drained.service },
      { hostId: drained.hostId, mode: 'remove', timeoutMs: 45_000, pollIntervalMs: 500 },
    );
    expect(result.complete).toBe(true);
    expect(result.ended).toEqual([
      expect.objectContaining({ workItemId: stays.workItemId, imageId: own.imageId }),
    ]);
    expect(result.skipped).toEqual([
      {
        workflowId: snapshotWorkflowId(moved.projectId, moved.workItemId),
        imageId: next.imageId,
        host: other.hostId,
      },
    ]);
    // The snapshot on the other host is untouched, its image on the engine.
    const view = await other.service.view(moved.projectId, moved.workItemId);
    expect(view?.current).toMatchObject({ imageId: next.imageId, host: other.hostId, state: 'active' });
    expect(await imageExists(other.docker, next.imageId)).toBe(true);
    // The drained host's own snapshot ended and left the engine.
    await waitFor(async () => !(await imageExists(drained.docker, own.imageId)), {
      ...DEADLINE,
      message: 'the drained snapshot did not leave',
    });
    await other.service.invalidate(moved.projectId, moved.workItemId, 'test done');
  });

  it('forget: a snapshot re-registered on another host after the listing is not terminated', async () => {
    const gone = await host('scope-forget');
    const moved = uniqueIds('scope-fmoved');
    const left = uniqueIds('scope-fleft');
    await registerOn(gone, moved);
    const stranded = await registerOn(gone, left);
    await visibleOn(gone, [moved.workItemId, left.workItemId]);
    const stale = await listingNow(gone.client, gone.hostId);

    const next = await registerOn(other, moved);
    const result = await drainHost(
      { client: withStaleFirstListing(gone.client, stale), service: gone.service },
      { hostId: gone.hostId, mode: 'forget', timeoutMs: 45_000, pollIntervalMs: 500 },
    );
    expect(result.ended).toEqual([
      expect.objectContaining({ workItemId: left.workItemId, imageId: stranded.imageId }),
    ]);
    expect(result.skipped.map((s) => s.imageId)).toEqual([next.imageId]);
    const movedHandle = other.client.workflow.getHandle(
      snapshotWorkflowId(moved.projectId, moved.workItemId),
    );
    expect((await movedHandle.describe()).status.name).toBe('RUNNING');
    expect((await other.service.view(moved.projectId, moved.workItemId))?.current).toMatchObject({
      imageId: next.imageId,
      state: 'active',
    });
    const leftHandle = gone.client.workflow.getHandle(snapshotWorkflowId(left.projectId, left.workItemId));
    expect((await leftHandle.describe()).status.name).toBe('TERMINATED');
    await other.service.invalidate(moved.projectId, moved.workItemId, 'test done');
    // Forgotten, not removed (the host is "gone"); this engine is shared, so clean it here.
    await gone.docker.getImage(stranded.imageId).remove({ force: true });
  });
});
