import type { RouteOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { openApiPath } from '../../src/api/openapi.js';
import { SnapshotError } from '../../src/service/snapshot-error.js';
import type { Harness } from './api-fakes.js';
import { buildApp } from './api-fakes.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.app.close();
  h = undefined;
});

const CONTRACT_ROUTES = [
  'POST /webhooks/github',
  'POST /v1/snapshots',
  'GET /v1/snapshots',
  'GET /v1/snapshots/{projectId}/{workItemId}',
  'DELETE /v1/snapshots/{projectId}/{workItemId}',
  'PUT /v1/snapshots/{projectId}/{workItemId}/pull-request',
  'POST /v1/leases',
  'DELETE /v1/leases/{leaseId}',
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /openapi.json',
];

describe('health, readiness, metrics', () => {
  it('/healthz answers without Temporal', async () => {
    h = buildApp();
    h.temporal.reachable = false;
    const res = await h.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 when Temporal answers and 503 JSON when it does not', async () => {
    h = buildApp();
    expect((await h.app.inject('/readyz')).statusCode).toBe(200);
    h.temporal.reachable = false;
    const res = await h.app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'NotReady' });
    expect(h.temporal.deadlines.length).toBeGreaterThan(0);
  });

  it('/metrics counts requests by route pattern, not by raw URL', async () => {
    h = buildApp();
    h.service.active.clear();
    await h.app.inject('/v1/snapshots/a/b');
    await h.app.inject('/v1/snapshots/c/d');
    await h.app.inject('/no/such/route');
    const res = await h.app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain(
      'snapkeeper_http_requests_total{method="GET",route="/v1/snapshots/:projectId/:workItemId",status="404"} 2',
    );
    expect(res.body).toContain(
      'snapkeeper_http_requests_total{method="GET",route="unmatched",status="404"} 1',
    );
    expect(res.body).toContain('snapkeeper_http_request_duration_seconds_bucket');
    expect(res.body).toContain('snapkeeper_webhook_deliveries_total');
    expect(res.body).toContain('snapkeeper_registrations_total');
  });

  it('default metrics include Node process metrics', async () => {
    const { createApiMetrics } = await import('../../src/api/metrics.js');
    const m = createApiMetrics();
    expect(await m.registry.metrics()).toContain('process_cpu_user_seconds_total');
  });
});

describe('OpenAPI document', () => {
  it('documents exactly the registered routes, and the contract paths', async () => {
    h = buildApp();
    const registered: string[] = [];
    h.app.addHook('onRoute', (route: RouteOptions) => {
      for (const m of [route.method].flat())
        if (m !== 'HEAD') registered.push(`${m} ${openApiPath(route.url)}`);
    });
    const res = await h.app.inject('/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect([...documented].sort()).toEqual([...registered].sort());
    expect([...documented].sort()).toEqual([...CONTRACT_ROUTES].sort());
    for (const route of registered) {
      const [method, path] = route.split(' ') as [string, string];
      expect(h.app.hasRoute({ method: method as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') })).toBe(true);
    }
  });

  it('every operation has responses, a summary, its path parameters, and errors as {error, message}', async () => {
    h = buildApp();
    const doc = (await h.app.inject('/openapi.json')).json() as {
      paths: Record<
        string,
        Record<
          string,
          {
            summary: string;
            responses: Record<string, unknown>;
            parameters?: Array<{ name: string; in: string }>;
            security: unknown[];
          }
        >
      >;
      components: { schemas: { Error: { required: string[] } } };
    };
    expect(doc.components.schemas.Error.required).toEqual(['error', 'message']);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.summary, `${method} ${path}`).toBeTruthy();
        expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
        const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(declared.sort(), `${method} ${path}`).toEqual(pathParams.sort());
        expect(op.security.length > 0, `${method} ${path} auth`).toBe(path.startsWith('/v1'));
      }
    }
  });

  it('a route without documentation fails the server start', async () => {
    h = buildApp();
    const app = h.app;
    const attempt = async () => {
      app.get('/undocumented', async () => ({}));
      await app.ready();
    };
    await expect(attempt()).rejects.toThrow(/no OpenAPI documentation/);
  });
});

describe('errors are JSON {error, message}, never a stack', () => {
  it('unknown route', async () => {
    h = buildApp();
    const res = await h.app.inject('/v2/nothing');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'NotFound', message: 'no route for GET /v2/nothing' });
  });

  it('an unexpected failure is a generic 500', async () => {
    h = buildApp();
    h.service.failWith = new Error('boom at /secret/path.ts:12');
    const res = await h.app.inject('/v1/snapshots/a/b');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'InternalError', message: 'internal error' });
    expect(res.body).not.toContain('secret');
  });

  it('Temporal unavailable is 503', async () => {
    h = buildApp();
    h.service.failWith = Object.assign(new Error('14 UNAVAILABLE'), { code: 14 });
    const res = await h.app.inject('/v1/snapshots/a/b');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'TemporalUnavailable' });
  });

  it.each([
    ['ImageNotFound', 422],
    ['UnmanagedImage', 422],
    ['InvalidRequest', 400],
    ['SnapshotNotFound', 404],
    ['ProjectDisabled', 403],
    ['HostUnavailable', 503],
  ] as const)('SnapshotError %s → %i', async (type, status) => {
    h = buildApp();
    h.service.failWith = new SnapshotError(type, `refused: ${type}`);
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/snapshots',
      payload: { projectId: 'p', workItemId: 'w', image: 'snap/x:1' },
    });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ error: type, message: `refused: ${type}` });
  });

  it('bad percent-encoding, malformed JSON, wrong media type, too large', async () => {
    h = buildApp();
    const bad = await h.app.inject('/v1/snapshots/%zz/x');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'InvalidRequest' });

    const json = await h.app.inject({
      method: 'POST',
      url: '/v1/snapshots',
      headers: { 'content-type': 'application/json' },
      payload: '{"projectId":',
    });
    expect(json.statusCode).toBe(400);
    expect(json.json()).toMatchObject({ error: 'InvalidRequest' });

    const proto = await h.app.inject({
      method: 'POST',
      url: '/v1/snapshots',
      headers: { 'content-type': 'application/json' },
      payload: '{"__proto__":{"x":1},"projectId":"p","workItemId":"w","image":"a:b"}',
    });
    expect(proto.statusCode).toBe(400);

    const text = await h.app.inject({
      method: 'POST',
      url: '/v1/snapshots',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toMatchObject({ error: 'UnsupportedMediaType' });

    const big = await h.app.inject({
      method: 'POST',
      url: '/v1/snapshots',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ projectId: 'p', workItemId: 'w', image: 'a:b', pad: 'x'.repeat(70_000) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ error: 'PayloadTooLarge' });
    for (const r of [bad, json, proto, text, big]) expect(r.body).not.toMatch(/at .*\.(ts|js):\d+/);
  });
});
