import { afterEach, describe, expect, it } from 'vitest';
import { bearerToken, tokenMatches } from '../../src/api/auth.js';
import type { Harness } from './api-fakes.js';
import { SECRET, TOKEN, buildApp, sign } from './api-fakes.js';
import { loadConfig } from '../../src/config/config.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.app.close();
  h = undefined;
});

const V1_REQUESTS = [
  { method: 'GET', url: '/v1/snapshots' },
  { method: 'GET', url: '/v1/snapshots/p/w' },
  { method: 'DELETE', url: '/v1/snapshots/p/w' },
  { method: 'PUT', url: '/v1/snapshots/p/w/pull-request', payload: { repository: 'a/b', number: 1 } },
  { method: 'POST', url: '/v1/snapshots', payload: { projectId: 'p', workItemId: 'w', image: 'snap/p:1' } },
] as const;

describe('bearer token on /v1', () => {
  it.each(V1_REQUESTS)(
    '$method $url: 401 JSON without or with a wrong token, served with it',
    async (req) => {
      h = buildApp({ token: TOKEN });
      for (const authorization of [
        undefined,
        '',
        'Bearer',
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.slice(0, -1)}`,
        `Basic ${TOKEN}`,
        TOKEN,
      ]) {
        const res = await h.app.inject({
          ...req,
          headers: authorization === undefined ? {} : { authorization },
        });
        expect(res.statusCode, String(authorization)).toBe(401);
        expect(res.json()).toEqual({
          error: 'Unauthorized',
          message: 'this route needs the header Authorization: Bearer <token>',
        });
        expect(res.headers['www-authenticate']).toContain('Bearer');
      }
      expect(h.service.calls.register).toHaveLength(0);
      expect(h.temporal.queries).toHaveLength(0);
      const ok = await h.app.inject({ ...req, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.statusCode).not.toBe(401);
      const lower = await h.app.inject({ ...req, headers: { authorization: `bearer ${TOKEN}` } });
      expect(lower.statusCode).not.toBe(401);
    },
  );

  it('a token and a webhook secret read from files (ending in a newline) are accepted as sent', async () => {
    // Issue 17: the newline of a mounted secret made every /v1 request 401 and every delivery 401.
    const config = loadConfig({ SNAPKEEPER_API_TOKEN: `${TOKEN}\n`, GITHUB_WEBHOOK_SECRET: `${SECRET}\n` });
    h = buildApp({ token: config.api.token, secret: config.github.webhookSecret ?? null });
    const res = await h.app.inject({
      method: 'GET',
      url: '/v1/snapshots',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.statusCode).toBe(200);
    const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const ping = await h.app.inject({
      method: 'POST',
      url: '/webhooks/github',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'ping',
        'x-github-delivery': 'd-secret-file',
        'x-hub-signature-256': sign(body, SECRET),
      },
      payload: body,
    });
    expect(ping.statusCode).toBe(200);
  });

  it('the token is checked before the body is parsed or validated', async () => {
    h = buildApp({ token: TOKEN });
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/snapshots',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    });
    expect(res.statusCode).toBe(401);
  });

  it.each(V1_REQUESTS)('$method $url: no token configured, no header needed', async (req) => {
    h = buildApp();
    const res = await h.app.inject({ ...req });
    expect(res.statusCode).not.toBe(401);
  });

  it('health, readiness, metrics and the OpenAPI document stay open', async () => {
    h = buildApp({ token: TOKEN });
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      expect((await h.app.inject(url)).statusCode, url).toBe(200);
    }
  });

  it('the webhook uses its signature, not the token', async () => {
    h = buildApp({ token: TOKEN });
    const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const res = await h.app.inject({
      method: 'POST',
      url: '/webhooks/github',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'ping',
        'x-github-delivery': 'd-1',
        'x-hub-signature-256': sign(body),
      },
      payload: body,
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('token helpers', () => {
  it('compares in constant time over digests, so lengths may differ', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abc', 'abcd')).toBe(false);
    expect(tokenMatches('abc', '')).toBe(false);
  });

  it('reads the bearer token', () => {
    expect(bearerToken('Bearer xyz')).toBe('xyz');
    expect(bearerToken('bearer   xyz ')).toBe('xyz');
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken('Token xyz')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
