import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotError } from '../../src/service/snapshot-error.js';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import type { Harness } from './api-fakes.js';
import { buildApp, execution, state } from './api-fakes.js';
import { SNAPSHOT_CONTRACT_FIELDS } from './api-validation-cases.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.app.close();
  h = undefined;
});

const register = (body: Record<string, unknown>) =>
  (h as Harness).app.inject({ method: 'POST', url: '/v1/snapshots', payload: body });

describe('POST /v1/snapshots', () => {
  it('201 when new, 200 when repeated (unchanged) or replaced; the body is the snapshot state', async () => {
    h = buildApp();
    const body = { projectId: 'p1', workItemId: 'w1', image: 'snap/p1:1', host: 'h-1' };
    const first = await register(body);
    expect(first.statusCode).toBe(201);
    expect(first.headers.location).toBe('/v1/snapshots/p1/w1');
    const json = first.json();
    for (const f of SNAPSHOT_CONTRACT_FIELDS) expect(json).toHaveProperty(f);
    expect(json).toMatchObject({ outcome: 'created', image: 'snap/p1:1', host: 'h-1', state: 'active' });

    const again = await register(body);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ outcome: 'unchanged' });

    const replaced = await register({ ...body, image: 'snap/p1:2' });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toMatchObject({ outcome: 'replaced', image: 'snap/p1:2' });
    const metrics = (await h.app.inject('/metrics')).body;
    expect(metrics).toContain('snapkeeper_registrations_total{outcome="created"} 1');
    expect(metrics).toContain('snapkeeper_registrations_total{outcome="unchanged"} 1');
    expect(metrics).toContain('snapkeeper_registrations_total{outcome="replaced"} 1');
  });

  it('host defaults to the configured host id; ttl and slidingTtl default from the project policy', async () => {
    h = buildApp();
    await register({ projectId: 'acme', workItemId: 'T-1', image: 'snap/acme:1' });
    expect(h.service.calls.register[0]).toEqual({
      projectId: 'acme',
      workItemId: 'T-1',
      image: 'snap/acme:1',
      host: 'api-default-host',
      ttlSeconds: 1800,
      slidingTtl: true,
    });
    // Project without its own ttl: the policy defaults (2h); no slidingTtl anywhere: left to the service.
    await register({ projectId: 'other', workItemId: 'T-1', image: 'snap/other:1' });
    expect(h.service.calls.register[1]).toEqual({
      projectId: 'other',
      workItemId: 'T-1',
      image: 'snap/other:1',
      host: 'api-default-host',
      ttlSeconds: 7200,
    });
    // The request wins over the policy.
    await register({
      projectId: 'acme',
      workItemId: 'T-2',
      image: 'snap/acme:2',
      host: 'h2',
      ttlSeconds: 60,
      slidingTtl: false,
      pullRequest: { repository: 'acme/app', number: 7 },
    });
    expect(h.service.calls.register[2]).toEqual({
      projectId: 'acme',
      workItemId: 'T-2',
      image: 'snap/acme:2',
      host: 'h2',
      ttlSeconds: 60,
      slidingTtl: false,
      pullRequest: { repository: 'acme/app', number: 7 },
    });
  });

  it('a project the policy disables is refused with 403 ProjectDisabled, nothing registered', async () => {
    h = buildApp();
    const res = await register({ projectId: 'frozen', workItemId: 'w', image: 'snap/f:1' });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: 'ProjectDisabled' });
    expect(h.service.calls.register).toHaveLength(0);
  });

  it('422 with the message for a missing or unmanaged image', async () => {
    h = buildApp();
    h.service.failWith = new SnapshotError('ImageNotFound', 'image snap/x:1 does not exist on this host');
    const missing = await register({ projectId: 'p', workItemId: 'w', image: 'snap/x:1' });
    expect(missing.statusCode).toBe(422);
    expect(missing.json()).toEqual({
      error: 'ImageNotFound',
      message: 'image snap/x:1 does not exist on this host',
    });
    h.service.failWith = new SnapshotError('UnmanagedImage', 'image snap/x:1 is not a managed snapshot');
    const unmanaged = await register({ projectId: 'p', workItemId: 'w', image: 'snap/x:1' });
    expect(unmanaged.statusCode).toBe(422);
    expect(unmanaged.json().error).toBe('UnmanagedImage');
    const metrics = (await h.app.inject('/metrics')).body;
    expect(metrics).toContain('snapkeeper_registrations_total{outcome="ImageNotFound"} 1');
  });

  it('runs under a Temporal deadline', async () => {
    h = buildApp();
    const before = Date.now();
    await register({ projectId: 'p', workItemId: 'w', image: 'snap/x:1' });
    expect(h.temporal.deadlines.at(-1)).toBeGreaterThan(before);
  });
});

describe('GET/DELETE/PUT /v1/snapshots/{projectId}/{workItemId}', () => {
  it('lookup: 200 with the state while active, 404 JSON otherwise', async () => {
    h = buildApp();
    await register({ projectId: 'p', workItemId: 'w', image: 'snap/x:1' });
    const hit = await h.app.inject('/v1/snapshots/p/w');
    expect(hit.statusCode).toBe(200);
    for (const f of SNAPSHOT_CONTRACT_FIELDS) expect(hit.json()).toHaveProperty(f);
    const miss = await h.app.inject('/v1/snapshots/p/other');
    expect(miss.statusCode).toBe(404);
    expect(miss.json()).toEqual({ error: 'SnapshotNotFound', message: 'no active snapshot for p/other' });
  });

  it('ids with "/" travel URL-encoded and arrive decoded', async () => {
    h = buildApp();
    const ids = { projectId: 'org/repo', workItemId: 'feature/ABC-1' };
    const reg = await register({ ...ids, image: 'snap/x:1' });
    expect(reg.statusCode).toBe(201);
    expect(reg.headers.location).toBe('/v1/snapshots/org%2Frepo/feature%2FABC-1');
    const hit = await h.app.inject('/v1/snapshots/org%2Frepo/feature%2FABC-1');
    expect(hit.statusCode).toBe(200);
    expect(h.service.calls.lookup.at(-1)).toEqual(['org/repo', 'feature/ABC-1']);
    // Unencoded, the slash splits the path: no such route.
    expect((await h.app.inject('/v1/snapshots/org/repo/feature/ABC-1')).statusCode).toBe(404);
    const link = await h.app.inject({
      method: 'PUT',
      url: '/v1/snapshots/org%2Frepo/feature%2FABC-1/pull-request',
      payload: { repository: 'org/repo', number: 3 },
    });
    expect(link.statusCode).toBe(200);
    expect(link.json().pullRequest).toEqual({ repository: 'org/repo', number: 3 });
  });

  it('invalidate: 202 with the reason, then 404', async () => {
    h = buildApp();
    await register({ projectId: 'p', workItemId: 'w', image: 'snap/x:1' });
    const res = await h.app.inject({ method: 'DELETE', url: '/v1/snapshots/p/w?reason=tests%20failed' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      projectId: 'p',
      workItemId: 'w',
      status: 'invalidating',
      reason: 'tests failed',
      imageId: `sha256:${'a'.repeat(64)}`,
    });
    expect(h.service.calls.invalidateImage).toEqual([['p', 'w', { reason: 'tests failed' }]]);
    const again = await h.app.inject({ method: 'DELETE', url: '/v1/snapshots/p/w' });
    expect(again.statusCode).toBe(404);
    expect(again.json().error).toBe('SnapshotNotFound');
  });

  it('invalidate without a reason uses a default one', async () => {
    h = buildApp();
    await register({ projectId: 'p', workItemId: 'w', image: 'snap/x:1' });
    await h.app.inject({ method: 'DELETE', url: '/v1/snapshots/p/w' });
    expect(h.service.calls.invalidateImage[0]?.[2]).toEqual({ reason: 'invalidated through the API' });
  });

  it('invalidate naming an image: 202 when it is current, 409 ImageNotCurrent (and nothing ends) when it is not', async () => {
    h = buildApp();
    await register({ projectId: 'p', workItemId: 'w', image: 'snap/x:1' });
    const other = `sha256:${'b'.repeat(64)}`;
    const refused = await h.app.inject({ method: 'DELETE', url: `/v1/snapshots/p/w?imageId=${other}` });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: 'ImageNotCurrent' });
    expect(h.service.active.size).toBe(1);
    const current = `sha256:${'a'.repeat(64)}`;
    const res = await h.app.inject({
      method: 'DELETE',
      url: `/v1/snapshots/p/w?imageId=${current}&reason=done`,
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ imageId: current, reason: 'done' });
    expect(h.service.calls.invalidateImage.at(-1)).toEqual(['p', 'w', { reason: 'done', imageId: current }]);
    expect(h.service.active.size).toBe(0);
  });

  it('invalidate with an imageId that is not an image id: 400', async () => {
    h = buildApp();
    const res = await h.app.inject({ method: 'DELETE', url: '/v1/snapshots/p/w?imageId=latest' });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/imageId/);
    expect(h.service.calls.invalidateImage).toHaveLength(0);
  });

  it('link a pull request: 200 with the state, 404 without an active snapshot', async () => {
    h = buildApp();
    await register({ projectId: 'p', workItemId: 'w', image: 'snap/x:1' });
    const res = await h.app.inject({
      method: 'PUT',
      url: '/v1/snapshots/p/w/pull-request',
      payload: { repository: 'acme/app', number: 17 },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ pullRequest: { repository: 'acme/app', number: 17 } });
    const none = await h.app.inject({
      method: 'PUT',
      url: '/v1/snapshots/p/none/pull-request',
      payload: { repository: 'acme/app', number: 17 },
    });
    expect(none.statusCode).toBe(404);
  });
});

describe('GET /v1/snapshots', () => {
  it('builds the visibility query from the filters and passes the cursor through as the page token', async () => {
    h = buildApp();
    const rows = [
      state('acme', 'T-1', { pullRequest: { repository: 'acme/app', number: 4 } }),
      state('acme', 'T-2'),
    ];
    h.temporal.rows = (_q, token) =>
      token
        ? { executions: [execution(rows[1]!)] }
        : { executions: [execution(rows[0]!)], next: new Uint8Array([1, 2, 250]) };
    const first = await h.app.inject('/v1/snapshots?projectId=acme&state=active&host=unit-host&pageSize=1');
    expect(first.statusCode).toBe(200);
    const page = first.json();
    expect(h.temporal.queries[0]).toEqual({
      query:
        "WorkflowType = 'snapshotWorkflow' AND SnapshotProjectId = 'acme' AND SnapshotHost = 'unit-host' AND SnapshotState = 'active' AND ExecutionStatus = 'Running'",
      pageSize: 1,
    });
    expect(page.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({
      projectId: 'acme',
      workItemId: 'T-1',
      image: rows[0]!.image,
      host: 'unit-host',
      state: 'active',
      expiresAt: rows[0]!.expiresAt,
      sizeBytes: 1234,
      pullRequest: { repository: 'acme/app', number: 4 },
      imageId: null,
      createdAt: null,
      lastUsedAt: null,
      workflowId: snapshotWorkflowId('acme', 'T-1'),
      workflowStatus: 'running',
    });
    for (const f of SNAPSHOT_CONTRACT_FIELDS) expect(page.items[0]).toHaveProperty(f);

    const second = await h.app.inject(
      `/v1/snapshots?pageSize=1&projectId=acme&state=active&host=unit-host&cursor=${page.nextCursor}`,
    );
    expect(second.statusCode).toBe(200);
    expect(Array.from(h.temporal.queries[1]!.nextPageToken!)).toEqual([1, 2, 250]);
    expect(second.json()).toMatchObject({ items: [{ workItemId: 'T-2' }], nextCursor: null });
  });

  it('without a state lists open workflows; state=removed includes closed ones', async () => {
    h = buildApp();
    await h.app.inject('/v1/snapshots');
    await h.app.inject('/v1/snapshots?state=removed');
    expect(h.temporal.queries[0]).toEqual({
      query:
        "WorkflowType = 'snapshotWorkflow' AND SnapshotState IS NOT NULL AND ExecutionStatus = 'Running'",
      pageSize: 50,
    });
    expect(h.temporal.queries[1]?.query).toBe(
      "WorkflowType = 'snapshotWorkflow' AND SnapshotState = 'removed'",
    );
  });

  it('view=full fills imageId, createdAt and lastUsedAt from the workflow query', async () => {
    h = buildApp();
    await register({ projectId: 'acme', workItemId: 'T-1', image: 'snap/acme:1' });
    const s = h.service.active.get(snapshotWorkflowId('acme', 'T-1'))!;
    h.temporal.rows = () => ({
      executions: [execution(s), execution(state('gone', 'x', { state: 'removed' }), 2)],
    });
    const res = await h.app.inject('/v1/snapshots?view=full&state=removed');
    const items = res.json().items;
    expect(items[0]).toMatchObject({
      imageId: s.imageId,
      createdAt: s.createdAt,
      lastUsedAt: s.lastUsedAt,
      ttlSeconds: 1800,
    });
    expect(items[1]).toMatchObject({ workItemId: 'x', imageId: null, workflowStatus: 'completed' });
  });

  it('a forged cursor, or one from another filter, is a 400 without asking Temporal', async () => {
    h = buildApp();
    h.temporal.rows = () => ({ executions: [], next: new Uint8Array([9, 9]) });
    const cursor = (await h.app.inject('/v1/snapshots?projectId=a')).json().nextCursor as string;
    const asked = h.temporal.queries.length;
    for (const bad of ['AAAA', 'Zm9yZ2Vk', `${cursor.slice(0, -2)}xx`]) {
      const res = await h.app.inject(`/v1/snapshots?projectId=a&cursor=${bad}`);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'InvalidRequest', message: 'cursor is not valid for this query' });
    }
    expect((await h.app.inject(`/v1/snapshots?projectId=b&cursor=${cursor}`)).statusCode).toBe(400);
    expect(h.temporal.queries.length).toBe(asked);
    expect((await h.app.inject(`/v1/snapshots?projectId=a&pageSize=5&cursor=${cursor}`)).statusCode).toBe(
      200,
    );
  });

  it('a cursor Temporal refuses (INVALID_ARGUMENT) is a 400', async () => {
    h = buildApp();
    h.temporal.rows = () => ({ executions: [], next: new Uint8Array([7]) });
    const cursor = (await h.app.inject('/v1/snapshots')).json().nextCursor as string;
    h.temporal.listError = Object.assign(new Error('3 INVALID_ARGUMENT: bad token'), { code: 3 });
    const res = await h.app.inject(`/v1/snapshots?cursor=${cursor}`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      error: 'InvalidRequest',
      message: 'cursor is not valid for this query',
    });
  });

  it('workflows that never published a state are left out', async () => {
    h = buildApp();
    h.temporal.rows = () => ({
      executions: [
        {
          execution: { workflowId: snapshotWorkflowId('p', 'w') },
          status: 1,
          searchAttributes: { indexedFields: {} },
        },
      ],
    });
    const res = await h.app.inject('/v1/snapshots');
    expect(res.json()).toEqual({ items: [], nextCursor: null });
  });
});
