// The validation matrix: every route with every kind of bad input answers 400 JSON naming the
// field, and never reaches the service or Temporal; the limits of src/contract/limits.ts hold at the edge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from './api-fakes.js';
import { buildApp } from './api-fakes.js';
import { VALIDATION_MATRIX, listGood, registerGood, requestParts } from './api-validation-cases.js';

let h: Harness;
beforeAll(async () => {
  h = buildApp();
  await h.app.ready();
});
afterAll(async () => {
  await h.app.close();
});

function serviceCalls(): number {
  const c = h.service.calls;
  return (
    c.register.length + c.lookup.length + c.invalidate.length + c.link.length + h.temporal.queries.length
  );
}

describe('validation matrix', () => {
  it('covers every /v1 route', () => {
    expect(new Set(VALIDATION_MATRIX.map((c) => c.route))).toEqual(
      new Set([
        'POST /v1/snapshots',
        'GET /v1/snapshots',
        'GET /v1/snapshots/{projectId}/{workItemId}',
        'DELETE /v1/snapshots/{projectId}/{workItemId}',
        'PUT /v1/snapshots/{projectId}/{workItemId}/pull-request',
      ]),
    );
  });

  it.each(VALIDATION_MATRIX.map((c) => [c.route, c.name, c] as const))(
    '%s: 400 for %s',
    async (_r, _n, c) => {
      const before = serviceCalls();
      const { headers, body } = requestParts(c);
      const res = await h.app.inject({
        method: c.method,
        url: c.url,
        headers,
        ...(body !== undefined ? { payload: body } : {}),
      });
      expect(res.statusCode).toBe(400);
      const json = res.json();
      expect(json.error).toBe('InvalidRequest');
      expect(json.message).toMatch(c.part);
      expect(Object.keys(json).sort()).toEqual(['error', 'message']);
      expect(serviceCalls()).toBe(before);
    },
  );
});

describe('valid edge cases pass validation', () => {
  it.each(registerGood)('POST /v1/snapshots accepts %s', async (_name, body) => {
    const res = await h.app.inject({ method: 'POST', url: '/v1/snapshots', payload: body });
    expect([200, 201]).toContain(res.statusCode);
  });

  it.each(listGood)('GET /v1/snapshots accepts %s', async (query) => {
    expect((await h.app.inject(`/v1/snapshots${query}`)).statusCode).toBe(200);
  });

  it('the longest valid ids route (encoded slashes make them longer)', async () => {
    const long = encodeURIComponent(`a${'/'.repeat(127)}`);
    const res = await h.app.inject(`/v1/snapshots/${long}/${long}`);
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toBe('SnapshotNotFound');
  });
});
