// The lease routes with a fake lease service: validation and bounds (the schema), auth, the 404 of
// an unknown lease and the idempotent 204 of an ended one, the 503 without a lease service; and a
// registration naming a lease releases it (scoped to its work item) only once it is accepted.
import { afterEach, describe, expect, it } from 'vitest';
import * as client from '@snapkeeper/client';
import { createApiServer } from '../../src/api/server.js';
import type { ApiServerDeps } from '../../src/api/deps.js';
import * as names from '../../src/contract/names.js';
import type * as leaseTypes from '../../src/contract/lease-types.js';
import type { CreateLeaseInput, LeaseService, ReleaseOutcome } from '../../src/service/lease-service.js';
import { SnapshotError } from '../../src/service/snapshot-error.js';
import { buildApp } from './api-fakes.js';

const LEASE = '3f1c2b4e-8d7a-4c1e-9b2f-6a5d4c3b2a10';
const ENDED = '11111111-2222-4333-8444-555555555555';

class FakeLeases implements LeaseService {
  created: CreateLeaseInput[] = [];
  released: Array<{ leaseId: string; scope?: { projectId: string; workItemId: string } }> = [];
  async create(input: CreateLeaseInput) {
    this.created.push(input);
    return { leaseId: LEASE, expiresAt: '2026-01-01T12:15:00.000Z' };
  }
  async release(leaseId: string, _reason: string, scope?: { projectId: string; workItemId: string }) {
    this.released.push({ leaseId, ...(scope ? { scope } : {}) });
    const outcome: ReleaseOutcome = leaseId === LEASE ? 'released' : leaseId === ENDED ? 'ended' : 'unknown';
    return outcome;
  }
}

let close: (() => Promise<unknown>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

function app(options: { token?: string; leases?: boolean } = {}) {
  const h = buildApp(options.token ? { token: options.token } : {});
  const leases = new FakeLeases();
  const deps: ApiServerDeps = { ...h.deps, ...(options.leases === false ? {} : { leases }) };
  const server = createApiServer(deps);
  close = () => Promise.all([server.close(), h.app.close()]);
  return { server, leases, service: h.service };
}

const post = (payload: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST' as const,
  url: '/v1/leases',
  payload: payload as Record<string, unknown>,
  headers,
});

describe('POST /v1/leases', () => {
  it('answers 201 with leaseId and expiresAt, and the default ttl is the service default', async () => {
    const { server, leases } = app();
    const res = await server.inject(post({ projectId: 'acme', workItemId: 'TICKET-42' }));
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ leaseId: LEASE, expiresAt: '2026-01-01T12:15:00.000Z' });
    expect(res.headers.location).toBe(`/v1/leases/${LEASE}`);
    expect(leases.created).toEqual([{ projectId: 'acme', workItemId: 'TICKET-42' }]);
  });

  it.each([
    ['ttl below the minimum', { projectId: 'a', workItemId: 'w', ttlSeconds: 4 }],
    ['ttl above the maximum', { projectId: 'a', workItemId: 'w', ttlSeconds: 86_401 }],
    ['ttl as a string', { projectId: 'a', workItemId: 'w', ttlSeconds: '60' }],
    ['ttl not an integer', { projectId: 'a', workItemId: 'w', ttlSeconds: 6.5 }],
    ['no workItemId', { projectId: 'a' }],
    ['a bad id', { projectId: 'a b', workItemId: 'w' }],
    ['an unknown field', { projectId: 'a', workItemId: 'w', leaseId: LEASE }],
  ])('refuses %s with 400 and takes no lease', async (_what, body) => {
    const { server, leases } = app();
    const res = await server.inject(post(body));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'InvalidRequest' });
    expect(leases.created).toEqual([]);
  });

  it('accepts the bounds themselves', async () => {
    const { server, leases } = app();
    for (const ttlSeconds of [5, 86_400]) {
      expect((await server.inject(post({ projectId: 'a', workItemId: 'w', ttlSeconds }))).statusCode).toBe(
        201,
      );
    }
    expect(leases.created.map((c) => c.ttlSeconds)).toEqual([5, 86_400]);
  });

  it('needs the bearer token like every /v1 route', async () => {
    const { server, leases } = app({ token: 'sesame' });
    const body = { projectId: 'a', workItemId: 'w' };
    expect((await server.inject(post(body))).statusCode).toBe(401);
    expect((await server.inject(post(body, { authorization: 'Bearer wrong' }))).statusCode).toBe(401);
    expect((await server.inject({ method: 'DELETE', url: `/v1/leases/${LEASE}` })).statusCode).toBe(401);
    expect(leases.created).toEqual([]);
    expect(leases.released).toEqual([]);
    expect((await server.inject(post(body, { authorization: 'Bearer sesame' }))).statusCode).toBe(201);
  });

  it('refuses a project the policy disables (403)', async () => {
    const { server, leases } = app();
    const res = await server.inject(post({ projectId: 'frozen', workItemId: 'w' }));
    expect(res.statusCode).toBe(403);
    expect(leases.created).toEqual([]);
  });

  it('answers 503 without a lease service', async () => {
    const { server } = app({ leases: false });
    const res = await server.inject(post({ projectId: 'a', workItemId: 'w' }));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'LeasesUnavailable' });
  });
});

describe('DELETE /v1/leases/{leaseId}', () => {
  it('answers 204 for a live lease and again for an ended one, 404 for an unknown one', async () => {
    const { server } = app();
    const del = (id: string) => server.inject({ method: 'DELETE', url: `/v1/leases/${id}` });
    expect((await del(LEASE)).statusCode).toBe(204);
    expect((await del(ENDED)).statusCode).toBe(204);
    const unknown = await del('99999999-2222-4333-8444-555555555555');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'LeaseNotFound' });
  });

  it('refuses an id that is no lease id with 400, and asks nothing', async () => {
    const { server, leases } = app();
    for (const id of ['abc', 'lease%3A' + LEASE, LEASE.toUpperCase()]) {
      expect((await server.inject({ method: 'DELETE', url: `/v1/leases/${id}` })).statusCode).toBe(400);
    }
    expect(leases.released).toEqual([]);
  });
});

describe('a registration naming a lease', () => {
  const register = (leaseId: string) => ({
    method: 'POST' as const,
    url: '/v1/snapshots',
    payload: { projectId: 'acme', workItemId: 'TICKET-42', image: 'snap/acme:1', leaseId },
  });

  it('releases it once accepted, scoped to its work item, and passes no leaseId to the workflow', async () => {
    const { server, leases, service } = app();
    const res = await server.inject(register(LEASE));
    expect(res.statusCode).toBe(201);
    expect(leases.released).toEqual([
      { leaseId: LEASE, scope: { projectId: 'acme', workItemId: 'TICKET-42' } },
    ]);
    expect(service.calls.register[0]).not.toHaveProperty('leaseId');
  });

  it('leaves it alone when the registration is refused', async () => {
    const { server, leases, service } = app();
    service.failWith = new SnapshotError('UnmanagedImage', 'labels missing');
    expect((await server.inject(register(LEASE))).statusCode).toBe(422);
    expect(leases.released).toEqual([]);
  });

  it('refuses a malformed leaseId (400) before registering', async () => {
    const { server, leases, service } = app();
    expect((await server.inject(register('not-a-lease'))).statusCode).toBe(400);
    expect(service.calls.register).toEqual([]);
    expect(leases.released).toEqual([]);
  });
});

// The client package's copy of the lease contract (its shapes, the label and the id rule).
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const shapes = {
  body: true satisfies Same<client.CreateLeaseBody, leaseTypes.CreateLeaseBody>,
  grant: true satisfies Same<client.LeaseGrant, leaseTypes.LeaseGrant>,
};

describe("the client package's lease contract", () => {
  it('has the service’s label, id rule and shapes', () => {
    expect(Object.values(shapes).every(Boolean)).toBe(true);
    expect(client.LABEL_LEASE).toBe(names.LABEL_LEASE);
    expect(client.LEASE_ID_PATTERN.source).toBe(names.LEASE_ID_PATTERN.source);
  });
});
