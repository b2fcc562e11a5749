// The REST API over real HTTP, against the dev server, a real worker and the private engine.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapkeeperApiError, SnapkeeperClient } from '@snapkeeper/client';
import type { SnapshotSummary } from '../../src/contract/snapshot-types.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { newDocker, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { SNAPSHOT_CONTRACT_FIELDS, VALIDATION_MATRIX, requestParts } from '../unit/api-validation-cases.js';
import type { ApiUnderTest } from './api-helpers.js';
import { DEADLINE, http, startApi } from './api-helpers.js';

const HOST = `api-rest-${randomUUID().slice(0, 8)}`;
const TOKEN = `token-${randomUUID()}`;

let worker: InProcessWorker;
let docker: Dockerode;
let open: ApiUnderTest;
let locked: ApiUnderTest;
let api: SnapkeeperClient;

beforeAll(async () => {
  docker = newDocker();
  // Lookups record their use (and move a sliding TTL) once a second here, not once a minute.
  worker = await startInProcessWorker({ hostId: HOST, env: { SNAPKEEPER_LOOKUP_RECORD_INTERVAL: '1s' } });
  open = await startApi(worker);
  locked = await startApi(worker, { token: TOKEN });
  api = open.client;
});

afterAll(async () => {
  await open?.close();
  await locked?.close();
  await worker?.stop();
});

async function snapshotImage(prefix: string, labels: 'managed' | 'none' = 'managed') {
  const ids = uniqueIds(prefix);
  return { ids, img: await makeSnapshotImage(docker, { ...ids, labels }) };
}

async function waitGone(imageId: string, what: string) {
  await waitFor(async () => !(await imageExists(docker, imageId)), {
    ...DEADLINE,
    message: `${what}: image ${imageId} still on the engine`,
  });
}

describe('register, lookup, invalidate over HTTP', () => {
  it('201 created, 200 unchanged, 200 replaced (and the old image leaves the engine)', async () => {
    const { ids, img } = await snapshotImage('rest-reg');
    const first = await http(open.baseUrl, 'POST', '/v1/snapshots', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...ids, image: img.image, host: HOST }),
    });
    expect(first.status).toBe(201);
    for (const f of SNAPSHOT_CONTRACT_FIELDS) expect(first.body).toHaveProperty(f);
    expect(first.body).toMatchObject({
      ...ids,
      image: img.image,
      imageId: img.imageId,
      host: HOST,
      state: 'active',
      outcome: 'created',
      pullRequest: null,
    });
    expect(first.body.sizeBytes).toBeGreaterThan(0);

    const again = await api.register({ ...ids, image: img.image, host: HOST });
    expect(again.outcome).toBe('unchanged');

    const next = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const replaced = await api.register({ ...ids, image: next.image, host: HOST });
    expect(replaced.outcome).toBe('replaced');
    expect(replaced.snapshot.imageId).toBe(next.imageId);
    await waitGone(img.imageId, 'replaced image');
    expect((await api.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(next.imageId);

    expect(await api.invalidate(ids.projectId, ids.workItemId, 'test over')).toBe(true);
    await waitGone(next.imageId, 'invalidated image');
  });

  it('422 for a missing image, an unlabelled image and an image of another work item; nothing is removed', async () => {
    const ids = uniqueIds('rest-422');
    const missing = await api
      .register({ ...ids, image: 'snapkeeper-test/does-not-exist:nope', host: HOST })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(SnapkeeperApiError);
    expect(missing).toMatchObject({ status: 422, code: 'ImageNotFound' });
    expect((missing as Error).message).toContain('does not exist');

    const { img: unlabelled } = await snapshotImage('rest-422u', 'none');
    const unmanaged = await api
      .register({ ...ids, image: unlabelled.image, host: HOST })
      .catch((e: unknown) => e);
    expect(unmanaged).toMatchObject({ status: 422, code: 'UnmanagedImage' });

    const { img: foreign } = await snapshotImage('rest-422f');
    const wrongOwner = await api
      .register({ ...ids, image: foreign.image, host: HOST })
      .catch((e: unknown) => e);
    expect(wrongOwner).toMatchObject({ status: 422, code: 'UnmanagedImage' });

    expect(await imageExists(docker, unlabelled.imageId)).toBe(true);
    expect(await imageExists(docker, foreign.imageId)).toBe(true);
    expect(await api.lookup(ids.projectId, ids.workItemId)).toBeNull();
  });

  it('a host without a Docker worker is 503 HostUnavailable with a message naming its queue', async () => {
    const { ids, img } = await snapshotImage('rest-nohost');
    const res = await http(open.baseUrl, 'POST', '/v1/snapshots', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...ids, image: img.image, host: `nohost-${randomUUID().slice(0, 8)}` }),
    });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'HostUnavailable' });
    expect(String(res.body.message)).toContain('snapkeeper-docker-nohost-');
  });

  it('lookup: 200 while active, a sliding TTL renews; 404 after invalidation; DELETE then 404', async () => {
    const { ids, img } = await snapshotImage('rest-lookup');
    const reg = await api.register({
      ...ids,
      image: img.image,
      host: HOST,
      ttlSeconds: 3600,
      slidingTtl: true,
    });
    const hit = await http(open.baseUrl, 'GET', `/v1/snapshots/${ids.projectId}/${ids.workItemId}`);
    expect(hit.status).toBe(200);
    for (const f of SNAPSHOT_CONTRACT_FIELDS) expect(hit.body).toHaveProperty(f);
    await waitFor(
      async () => {
        const s = await api.lookup(ids.projectId, ids.workItemId);
        return (
          s &&
          Date.parse(s.expiresAt) > Date.parse(reg.snapshot.expiresAt) &&
          s.lastUsedAt > reg.snapshot.lastUsedAt
        );
      },
      { ...DEADLINE, message: 'the sliding TTL did not move on lookup' },
    );

    const del = await http(
      open.baseUrl,
      'DELETE',
      `/v1/snapshots/${ids.projectId}/${ids.workItemId}?reason=done`,
    );
    expect(del.status).toBe(202);
    expect(del.body).toEqual({ ...ids, status: 'invalidating', reason: 'done', imageId: img.imageId });
    const miss = await http(open.baseUrl, 'GET', `/v1/snapshots/${ids.projectId}/${ids.workItemId}`);
    expect(miss.status).toBe(404);
    expect(miss.body).toMatchObject({ error: 'SnapshotNotFound' });
    await waitGone(img.imageId, 'deleted snapshot');
    const again = await http(open.baseUrl, 'DELETE', `/v1/snapshots/${ids.projectId}/${ids.workItemId}`);
    expect(again.status).toBe(404);
    expect(await api.lookup(ids.projectId, `${ids.workItemId}-never`)).toBeNull();
  });

  it('ids with "/" work end to end, URL-encoded in the path', async () => {
    const base = uniqueIds('rest-slash');
    const ids = { projectId: `org/${base.projectId}`, workItemId: `feature/${base.workItemId}` };
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const reg = await http(open.baseUrl, 'POST', '/v1/snapshots', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...ids, image: img.image, host: HOST }),
    });
    expect(reg.status).toBe(201);
    expect(reg.headers.get('location')).toBe(
      `/v1/snapshots/${encodeURIComponent(ids.projectId)}/${encodeURIComponent(ids.workItemId)}`,
    );
    expect((await api.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(img.imageId);
    expect(
      await api.linkPullRequest(ids.projectId, ids.workItemId, { repository: 'org/repo', number: 4 }),
    ).toMatchObject({ pullRequest: { repository: 'org/repo', number: 4 } });
    expect(await api.invalidate(ids.projectId, ids.workItemId)).toBe(true);
    await waitGone(img.imageId, 'slash ids');
  });

  it('PUT pull-request links the snapshot (visible to visibility); 404 without a snapshot', async () => {
    const { ids, img } = await snapshotImage('rest-link');
    await api.register({ ...ids, image: img.image, host: HOST });
    const repository = `it-org/link-${randomUUID().slice(0, 8)}`;
    const res = await http(
      open.baseUrl,
      'PUT',
      `/v1/snapshots/${ids.projectId}/${ids.workItemId}/pull-request`,
      {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ repository, number: 12 }),
      },
    );
    expect(res.status).toBe(200);
    expect(res.body.pullRequest).toEqual({ repository, number: 12 });
    const items = await waitFor(
      async () => {
        const page = await api.list({ projectId: ids.projectId });
        return page.items.length === 1 && page.items[0]?.pullRequest ? page.items : undefined;
      },
      { ...DEADLINE, message: 'the link did not reach visibility' },
    );
    expect(items[0]?.pullRequest).toEqual({ repository, number: 12 });
    const none = await http(open.baseUrl, 'PUT', `/v1/snapshots/${ids.projectId}/nothing-here/pull-request`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ repository, number: 12 }),
    });
    expect(none.status).toBe(404);
    await api.invalidate(ids.projectId, ids.workItemId);
    await waitGone(img.imageId, 'linked snapshot');
  });
});

describe('listing through visibility', () => {
  it('filters by project, host and state, and pages with a cursor', async () => {
    const projectId = `list-${randomUUID().slice(0, 8)}`;
    const images = [];
    for (const n of [1, 2, 3]) {
      const workItemId = `w${n}`;
      const img = await makeSnapshotImage(docker, { projectId, workItemId, labels: 'managed' });
      await api.register({ projectId, workItemId, image: img.image, host: HOST });
      images.push({ workItemId, ...img });
    }
    const walk = async (filter: { state?: 'active' | 'invalidated' | 'removed' }) => {
      const seen: SnapshotSummary[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await api.list({
          projectId,
          host: HOST,
          pageSize: 2,
          ...filter,
          ...(cursor ? { cursor } : {}),
        });
        seen.push(...page.items);
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor && pages < 10);
      return { seen, pages };
    };
    const all = await waitFor(
      async () => {
        const r = await walk({ state: 'active' });
        return r.seen.length === 3 ? r : undefined;
      },
      { ...DEADLINE, message: 'three active snapshots did not show in the listing' },
    );
    expect(all.pages).toBeGreaterThanOrEqual(2);
    expect(all.seen.map((s) => s.workItemId).sort()).toEqual(['w1', 'w2', 'w3']);
    for (const s of all.seen) {
      expect(s).toMatchObject({
        projectId,
        host: HOST,
        state: 'active',
        workflowStatus: 'running',
        imageId: null,
      });
      expect(s.image).toBe(images.find((i) => i.workItemId === s.workItemId)?.image);
      expect(s.sizeBytes).toBeGreaterThan(0);
    }
    const full = await api.list({ projectId, view: 'full', pageSize: 10 });
    for (const s of full.items) {
      expect(s.imageId).toBe(images.find((i) => i.workItemId === s.workItemId)?.imageId);
      expect(s.createdAt).toBeTruthy();
      expect(s.lastUsedAt).toBeTruthy();
    }

    expect(await api.invalidate(projectId, 'w1', 'listing test')).toBe(true);
    await waitGone(images[0]!.imageId, 'w1');
    await waitFor(
      async () => {
        const active = await walk({ state: 'active' });
        const removed = await walk({ state: 'removed' });
        return (
          active.seen
            .map((s) => s.workItemId)
            .sort()
            .join() === 'w2,w3' && removed.seen.some((s) => s.workItemId === 'w1')
        );
      },
      { ...DEADLINE, message: 'w1 did not move from active to removed in the listing' },
    );
    const other = await api.list({ projectId, host: 'another-host' });
    expect(other.items).toEqual([]);
    for (const w of ['w2', 'w3']) await api.invalidate(projectId, w, 'listing test');
    for (const i of images.slice(1)) await waitGone(i.imageId, i.workItemId);
  });

  it('a forged cursor is a 400', async () => {
    const res = await http(open.baseUrl, 'GET', '/v1/snapshots?cursor=Zm9yZ2VkLWN1cnNvcg');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'InvalidRequest' });
  });
});

describe('validation matrix on a real server', () => {
  it.each(VALIDATION_MATRIX.map((c) => [c.route, c.name, c] as const))(
    '%s: 400 for %s',
    async (_r, _n, c) => {
      const { headers, body } = requestParts(c);
      const res = await http(open.baseUrl, c.method, c.url, {
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('InvalidRequest');
      expect(String(res.body.message)).toMatch(c.part);
    },
  );
});

describe('auth', () => {
  it('token set: /v1 needs the bearer token (401 JSON otherwise); open routes stay open', async () => {
    const { ids, img } = await snapshotImage('rest-auth');
    const body = JSON.stringify({ ...ids, image: img.image, host: HOST });
    const json = { 'content-type': 'application/json' };
    for (const headers of [
      json,
      { ...json, authorization: 'Bearer wrong' },
      { ...json, authorization: TOKEN },
    ]) {
      const res = await http(locked.baseUrl, 'POST', '/v1/snapshots', { headers, body });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        error: 'Unauthorized',
        message: 'this route needs the header Authorization: Bearer <token>',
      });
    }
    expect(await imageExists(docker, img.imageId)).toBe(true);
    for (const path of ['/v1/snapshots', `/v1/snapshots/${ids.projectId}/${ids.workItemId}`]) {
      expect((await http(locked.baseUrl, 'GET', path)).status).toBe(401);
    }
    const ok = await http(locked.baseUrl, 'POST', '/v1/snapshots', {
      headers: { ...json, authorization: `Bearer ${TOKEN}` },
      body,
    });
    expect(ok.status).toBe(201);
    expect((await locked.client.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(img.imageId);
    await expect(
      new SnapkeeperClient({ baseUrl: locked.baseUrl }).lookup(ids.projectId, ids.workItemId),
    ).rejects.toMatchObject({
      status: 401,
    });
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      expect((await http(locked.baseUrl, 'GET', path)).status, path).toBe(200);
    }
    expect(await locked.client.invalidate(ids.projectId, ids.workItemId)).toBe(true);
    await waitGone(img.imageId, 'auth snapshot');
  });

  it('token unset: /v1 answers without a header', async () => {
    const res = await http(open.baseUrl, 'GET', '/v1/snapshots?pageSize=1');
    expect(res.status).toBe(200);
  });
});

describe('operations', () => {
  it('/healthz, /readyz, /metrics and /openapi.json answer', async () => {
    expect((await http(open.baseUrl, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await http(open.baseUrl, 'GET', '/readyz')).body).toEqual({
      status: 'ready',
      temporal: 'reachable',
    });
    const metrics = await http(open.baseUrl, 'GET', '/metrics');
    expect(metrics.text).toMatch(
      /snapkeeper_http_requests_total\{method="POST",route="\/v1\/snapshots",status="201"\} \d+/,
    );
    expect(metrics.text).toMatch(/snapkeeper_registrations_total\{outcome="created"\} \d+/);
    const doc = await http(open.baseUrl, 'GET', '/openapi.json');
    expect(doc.body.openapi).toBe('3.1.0');
  });

  it('/readyz is 503 when Temporal cannot be reached, and answers within its deadline', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 1000 });
    const dead = new Client({ connection, namespace: 'default' });
    const api2 = await startApi(worker, { temporal: dead });
    try {
      const res = await http(api2.baseUrl, 'GET', '/readyz');
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: 'NotReady' });
      expect((await http(api2.baseUrl, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await api2.close();
      await connection.close();
    }
  });
});
