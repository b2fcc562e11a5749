// The validation matrix: every route with every kind of bad input answers 400 JSON naming the
// field, and never reaches the service; the limits of src/shared/limits.ts hold at the edge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from './api-fakes.js';
import { buildApp } from './api-fakes.js';

let h: Harness;
beforeAll(async () => {
  h = buildApp();
  await h.app.ready();
});
afterAll(async () => {
  await h.app.close();
});

const valid = { projectId: 'p', workItemId: 'w', image: 'snap/p:1' };
const id128 = `a${'b'.repeat(127)}`;
const id129 = `a${'b'.repeat(128)}`;
const digest = 'a'.repeat(64);

type Case = [name: string, body: unknown, messagePart: RegExp];

const registerBad: Case[] = [
  ['missing projectId', { workItemId: 'w', image: 'snap/p:1' }, /projectId/],
  ['missing workItemId', { projectId: 'p', image: 'snap/p:1' }, /workItemId/],
  ['missing image', { projectId: 'p', workItemId: 'w' }, /image/],
  ['empty projectId', { ...valid, projectId: '' }, /projectId/],
  ['projectId starting with "-"', { ...valid, projectId: '-p' }, /projectId/],
  ['projectId with a space', { ...valid, projectId: 'a b' }, /projectId/],
  ['projectId with a quote', { ...valid, projectId: "a'b" }, /projectId/],
  ['projectId of 129 characters', { ...valid, projectId: id129 }, /projectId/],
  ['workItemId with ":"', { ...valid, workItemId: 'a:b' }, /workItemId/],
  ['workItemId not a string', { ...valid, workItemId: 42 }, /workItemId/],
  ['image with upper case', { ...valid, image: 'Snap/P:1' }, /image/],
  ['image with a space', { ...valid, image: 'snap/p :1' }, /image/],
  ['image of 256 characters', { ...valid, image: `s${'a'.repeat(255)}` }, /image/],
  ['image with a bad digest', { ...valid, image: 'snap/p@sha256:xyz' }, /image/],
  ['host with "/"', { ...valid, host: 'a/b' }, /host/],
  ['host of 64 characters', { ...valid, host: `h${'a'.repeat(63)}` }, /host/],
  ['ttlSeconds 0', { ...valid, ttlSeconds: 0 }, /ttlSeconds/],
  ['ttlSeconds over 90 days', { ...valid, ttlSeconds: 90 * 86400 + 1 }, /ttlSeconds/],
  ['ttlSeconds fractional', { ...valid, ttlSeconds: 1.5 }, /ttlSeconds/],
  ['ttlSeconds as a string (no coercion)', { ...valid, ttlSeconds: '60' }, /ttlSeconds/],
  ['slidingTtl as a string', { ...valid, slidingTtl: 'true' }, /slidingTtl/],
  ['pullRequest without number', { ...valid, pullRequest: { repository: 'a/b' } }, /number/],
  ['pullRequest number 0', { ...valid, pullRequest: { repository: 'a/b', number: 0 } }, /number/],
  ['pullRequest number too big', { ...valid, pullRequest: { repository: 'a/b', number: 2 ** 31 } }, /number/],
  [
    'pullRequest repository without owner',
    { ...valid, pullRequest: { repository: 'ab', number: 1 } },
    /repository/,
  ],
  [
    'pullRequest with an extra field',
    { ...valid, pullRequest: { repository: 'a/b', number: 1, x: 1 } },
    /additional/,
  ],
  ['an unknown field', { ...valid, extra: true }, /additional/],
  ['an array', [valid], /object/],
  ['null', null, /object/],
];

const registerGood: Array<[string, Record<string, unknown>]> = [
  ['ids of 128 characters', { ...valid, projectId: id128, workItemId: id128 }],
  ['ids with "/", ".", "_", "-"', { ...valid, projectId: 'org/repo.x', workItemId: 'feature/A_B-1' }],
  ['an image id', { ...valid, image: `sha256:${digest}` }],
  ['a short image id', { ...valid, image: digest.slice(0, 12) }],
  ['a digest reference', { ...valid, image: `registry.local:5000/snap/p@sha256:${digest}` }],
  [
    'every optional field',
    {
      ...valid,
      host: 'h.1_x-y',
      ttlSeconds: 1,
      slidingTtl: true,
      pullRequest: { repository: 'o/r', number: 1 },
    },
  ],
];

describe('POST /v1/snapshots validation', () => {
  it.each(registerBad)('400 for %s', async (_name, body, part) => {
    const before = h.service.calls.register.length;
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/snapshots',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
    expect(res.statusCode).toBe(400);
    const json = res.json();
    expect(json.error).toBe('InvalidRequest');
    expect(json.message).toMatch(part);
    expect(Object.keys(json).sort()).toEqual(['error', 'message']);
    expect(h.service.calls.register.length).toBe(before);
  });

  it.each(registerGood)('accepts %s', async (_name, body) => {
    const res = await h.app.inject({ method: 'POST', url: '/v1/snapshots', payload: body });
    expect([200, 201]).toContain(res.statusCode);
  });

  it('an empty body is 400', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/snapshots',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('InvalidRequest');
  });
});

const badIds: Array<[string, string]> = [
  ['leading "-"', '-x'],
  ['a space', 'a%20b'],
  ['a colon', 'a%3Ab'],
  ['129 characters', id129],
  ['a double-encoded slash', 'a%252Fb'],
];

describe('path parameters of /v1/snapshots/{projectId}/{workItemId}', () => {
  for (const [method, suffix, payload] of [
    ['GET', '', undefined],
    ['DELETE', '', undefined],
    ['PUT', '/pull-request', { repository: 'a/b', number: 1 }],
  ] as const) {
    it.each(badIds)(`${method} 400 for a projectId with %s`, async (_name, bad) => {
      const res = await h.app.inject({
        method,
        url: `/v1/snapshots/${bad}/w${suffix}`,
        ...(payload ? { payload } : {}),
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'InvalidRequest' });
      expect(res.json().message).toMatch(/projectId/);
    });
    it.each(badIds)(`${method} 400 for a workItemId with %s`, async (_name, bad) => {
      const res = await h.app.inject({
        method,
        url: `/v1/snapshots/p/${bad}${suffix}`,
        ...(payload ? { payload } : {}),
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(/workItemId/);
    });
  }
  it('the longest valid ids route (encoded slashes make them longer)', async () => {
    const long = encodeURIComponent(`a${'/'.repeat(127)}`);
    const res = await h.app.inject(`/v1/snapshots/${long}/${long}`);
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toBe('SnapshotNotFound');
  });
});

describe('DELETE query and PUT body validation', () => {
  it.each([
    ['an empty reason', '?reason=', /reason/],
    ['a reason of 501 characters', `?reason=${'x'.repeat(501)}`, /reason/],
    ['an unknown parameter', '?force=true', /additional/],
  ])('DELETE 400 for %s', async (_n, query, part) => {
    const res = await h.app.inject({ method: 'DELETE', url: `/v1/snapshots/p/w${query}` });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(part);
  });

  it.each([
    ['no body', undefined, /body/i],
    ['a repository without owner', { repository: 'ab', number: 1 }, /repository/],
    ['a number as a string', { repository: 'a/b', number: '5' }, /number/],
    ['a negative number', { repository: 'a/b', number: -1 }, /number/],
    ['an extra field', { repository: 'a/b', number: 1, merged: true }, /additional/],
  ])('PUT pull-request 400 for %s', async (_n, body, part) => {
    const res = await h.app.inject({
      method: 'PUT',
      url: '/v1/snapshots/p/w/pull-request',
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(part);
  });
});

describe('GET /v1/snapshots query validation', () => {
  it.each([
    ['an unknown state', '?state=gone', /state/],
    ['pageSize 0', '?pageSize=0', /pageSize/],
    ['pageSize 201', '?pageSize=201', /pageSize/],
    ['pageSize not a number', '?pageSize=ten', /pageSize/],
    ['a negative pageSize', '?pageSize=-1', /pageSize/],
    ['a bad projectId', '?projectId=a%27b', /projectId/],
    ['a bad host', '?host=a%2Fb', /host/],
    ['a cursor outside base64url', '?cursor=ab%2Bcd%3D', /cursor/],
    ['an unknown view', '?view=everything', /view/],
    ['an unknown parameter', '?limit=5', /additional/],
  ])('400 for %s', async (_n, query, part) => {
    const before = h.temporal.queries.length;
    const res = await h.app.inject(`/v1/snapshots${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('InvalidRequest');
    expect(res.json().message).toMatch(part);
    expect(h.temporal.queries.length).toBe(before);
  });

  it.each([
    '?pageSize=1',
    '?pageSize=200',
    '?state=removal-blocked',
    '?view=summary',
    '?projectId=org%2Frepo',
  ])('accepts %s', async (query) => {
    expect((await h.app.inject(`/v1/snapshots${query}`)).statusCode).toBe(200);
  });
});
