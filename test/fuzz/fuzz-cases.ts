// Generated hostile requests against the API, each with the statuses docs/api.md allows for it.
// The oracle is deliberately about the contract (status and JSON error), not the implementation.
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import {
  HOST_ID_PATTERN,
  ID_PATTERN,
  IMAGE_REF_MAX_LENGTH,
  IMAGE_REF_PATTERN,
  MAX_TTL_SECONDS,
  REASON_MAX_LENGTH,
  REPOSITORY_PATTERN,
} from '../../src/contract/limits.js';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import type { RawRequest } from './raw-http.js';
import { DOCUMENTED } from './documented-statuses.js';

export interface Sentinel {
  projectId: string;
  workItemId: string;
  image: string;
  imageId: string;
  pullRequest: number;
}

export interface FuzzTargets {
  token: string;
  secret: string;
  host: string;
  repository: string;
  disabledProject: string;
  sentinels: Sentinel[];
  /** References to images without snapkeeper's labels: base, canary, a plain image; tags and ids. */
  unmanagedRefs: string[];
  /** References that name nothing on the engine. */
  missingRefs: string[];
}

export interface FuzzCase {
  category: string;
  req: RawRequest;
  expected: readonly number[];
  /** The workflow a syntactically valid registration would start (it must not stay open). */
  registers?: string;
}

const SIG = 'x-hub-signature-256';

function hmac(body: string | Buffer, secret: string, algorithm: 'sha256' | 'sha1' = 'sha256'): string {
  return `${algorithm}=${createHmac(algorithm, secret).update(body).digest('hex')}`;
}

// ---- ids and image references ------------------------------------------------------------

const validIdChars = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._\-/]{0,30}$/);

/** Ids a router might send by mistake or an attacker on purpose. */
export const oddId: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: validIdChars.map((s) => `fz-${s}`), weight: 4 },
  {
    arbitrary: fc.constantFrom(
      '',
      '.',
      '..',
      'a/../b',
      '../etc/passwd',
      'a/./b',
      '%2F',
      '%2e%2e',
      '%',
      '%zz',
      'a:b',
      'snapshot:x:y',
      ':',
      'org/repo',
      'a//b',
      '/lead',
      'trail/',
      'a b',
      'a\tb',
      'a?b',
      'a#b',
      'a;b',
      '-dash',
      '_under',
      'é',
      'Ω-unicode',
      '😀',
      '\u0000',
      'a'.repeat(128),
      'a'.repeat(129),
    ),
    weight: 4,
  },
  { arbitrary: fc.string({ unit: 'grapheme', minLength: 0, maxLength: 12 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary-ascii', minLength: 0, maxLength: 12 }), weight: 2 },
  { arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{128,300}$/), weight: 1 },
);

export const isValidId = (s: unknown): s is string => typeof s === 'string' && ID_PATTERN.test(s);

function oddImage(t: FuzzTargets): fc.Arbitrary<string> {
  const hex64 = fc.stringMatching(/^[a-f0-9]{64}$/);
  return fc.oneof(
    { arbitrary: fc.constantFrom(...t.unmanagedRefs), weight: 3 },
    { arbitrary: fc.constantFrom(...t.missingRefs), weight: 2 },
    {
      arbitrary: fc.constantFrom(...t.sentinels.flatMap((s) => [s.image, s.imageId, s.imageId.slice(7, 19)])),
      weight: 3,
    },
    { arbitrary: hex64.map((h) => `sha256:${h}`), weight: 1 },
    { arbitrary: hex64.map((h) => `fuzz/nothing@sha256:${h}`), weight: 1 },
    {
      arbitrary: fc.stringMatching(
        /^[a-z0-9]{1,10}(\/[a-z0-9]{1,10}){0,2}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,10})?$/,
      ),
      weight: 2,
    },
    {
      arbitrary: fc.constantFrom(
        '',
        'UPPER/case',
        'a'.repeat(256),
        'repo:',
        ':tag',
        'repo@sha256:short',
        'sha256:' + 'g'.repeat(64),
        '../../etc/passwd',
        'repo:tag:extra',
        'localhost:5000/x:y',
        '--help',
      ),
      weight: 2,
    },
    { arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }), weight: 1 },
  );
}

const isValidImage = (s: unknown): s is string =>
  typeof s === 'string' && s.length > 0 && s.length <= IMAGE_REF_MAX_LENGTH && IMAGE_REF_PATTERN.test(s);

// ---- REST ----------------------------------------------------------------------------------

function auth(t: FuzzTargets): Array<[string, string]> {
  return [['authorization', `Bearer ${t.token}`]];
}

const json = (): Array<[string, string]> => [['content-type', 'application/json']];

const badAuth = (t: FuzzTargets): fc.Arbitrary<Array<[string, string]>> =>
  fc.constantFrom<Array<[string, string]>>(
    [],
    [['authorization', 'Bearer']],
    [['authorization', 'Bearer wrong-token']],
    [['authorization', `Bearer ${t.token}x`]],
    [['authorization', `Bearer ${t.token.slice(0, -1)}`]],
    [['authorization', `Basic ${Buffer.from(`u:${t.token}`).toString('base64')}`]],
    [['authorization', t.token]],
    [
      ['authorization', 'Bearer wrong'],
      ['authorization', `Bearer ${t.token}`],
    ],
  );

/** An encoded path segment; `exact` says the server decodes it back to `id`. */
const segment = (id: string): fc.Arbitrary<{ text: string; exact: boolean }> =>
  fc.constantFrom<'component' | 'raw' | 'double'>('component', 'component', 'raw', 'double').map((mode) => {
    if (mode === 'component') return { text: encodeURIComponent(id), exact: true };
    if (mode === 'double') return { text: encodeURIComponent(encodeURIComponent(id)), exact: false };
    // Raw: only what HTTP cannot carry is escaped; "/", "%", "." and ".." reach the router as they are.
    return {
      text: id.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c)).replace(/[?#]/g, encodeURIComponent),
      exact: false,
    };
  });

/** The register body, with every field valid, odd, or of the wrong type. */
function registerBody(t: FuzzTargets): fc.Arbitrary<Record<string, unknown>> {
  const sentinel = fc.constantFrom(...t.sentinels);
  const odd = fc.record({
    projectId: fc.oneof(
      oddId,
      fc.constant(t.disabledProject),
      fc.constantFrom(...t.sentinels.map((s) => s.projectId)),
    ),
    workItemId: oddId,
    image: oddImage(t),
    host: fc.oneof(
      { arbitrary: fc.constant(t.host), weight: 8 },
      { arbitrary: fc.constantFrom('', 'bad host', 'x'.repeat(64), '-lead', 'a/b', 'é'), weight: 2 },
    ),
  });
  const extras = fc.record(
    {
      ttlSeconds: fc.oneof(
        fc.integer({ min: 1, max: MAX_TTL_SECONDS }),
        fc.constantFrom<unknown>(0, -1, MAX_TTL_SECONDS + 1, 1.5, '60', null, true, 1e300),
      ),
      slidingTtl: fc.oneof(fc.boolean(), fc.constantFrom<unknown>('true', 1, null)),
      pullRequest: fc.oneof(
        fc.record({
          repository: fc.constant(t.repository),
          number: fc.integer({ min: 50_000, max: 60_000 }),
        }),
        fc.constantFrom<unknown>(
          null,
          {},
          { repository: 'x', number: 1 },
          { repository: t.repository, number: 0 },
          { repository: t.repository, number: 1, extra: 1 },
          'acme/app#1',
        ),
      ),
      unknownField: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    { arbitrary: fc.tuple(odd, extras).map(([a, b]) => ({ ...a, ...b })), weight: 6 },
    // The sentinel's own image again: an idempotent registration, nothing changes.
    {
      arbitrary: sentinel.map((s) => ({
        projectId: s.projectId,
        workItemId: s.workItemId,
        image: s.image,
        host: t.host,
      })),
      weight: 1,
    },
    // Another work item's image, under a work item that does not own it.
    {
      arbitrary: fc.tuple(sentinel, sentinel, fc.boolean()).map(([a, b, byId]) => ({
        projectId: a.projectId,
        workItemId: a.workItemId === b.workItemId ? `${a.workItemId}-other` : b.workItemId,
        image: byId ? a.imageId : a.image,
        host: t.host,
      })),
      weight: 2,
    },
  );
}

function validRegistration(body: Record<string, unknown>, t: FuzzTargets): boolean {
  const allowed = new Set([
    'projectId',
    'workItemId',
    'image',
    'host',
    'ttlSeconds',
    'slidingTtl',
    'pullRequest',
  ]);
  if (Object.keys(body).some((k) => !allowed.has(k))) return false;
  if (!isValidId(body.projectId) || !isValidId(body.workItemId) || !isValidImage(body.image)) return false;
  if ('host' in body && !(typeof body.host === 'string' && HOST_ID_PATTERN.test(body.host))) return false;
  const ttl = body.ttlSeconds;
  if (
    'ttlSeconds' in body &&
    !(typeof ttl === 'number' && Number.isInteger(ttl) && ttl >= 1 && ttl <= MAX_TTL_SECONDS)
  )
    return false;
  if ('slidingTtl' in body && typeof body.slidingTtl !== 'boolean') return false;
  if ('pullRequest' in body) {
    const pr = body.pullRequest as Record<string, unknown> | null;
    if (typeof pr !== 'object' || pr === null || Array.isArray(pr)) return false;
    if (Object.keys(pr).some((k) => k !== 'repository' && k !== 'number')) return false;
    if (
      typeof pr.repository !== 'string' ||
      pr.repository.length > 201 ||
      !REPOSITORY_PATTERN.test(pr.repository)
    )
      return false;
    const n = pr.number;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1) return false;
  }
  return t.host.length > 0;
}

function registerExpectation(body: Record<string, unknown>, t: FuzzTargets): readonly number[] {
  if (!validRegistration(body, t)) return [400];
  if (body.projectId === t.disabledProject) return [403];
  const self = t.sentinels.find(
    (s) => s.projectId === body.projectId && s.workItemId === body.workItemId && s.image === body.image,
  );
  if (self && (body.host ?? t.host) === t.host) return [200, ...DOCUMENTED.temporalBusy];
  // Unmanaged, another work item's, or nothing at all: refused by the host's check.
  return [422, ...DOCUMENTED.temporalBusy];
}

function registerCases(t: FuzzTargets): fc.Arbitrary<FuzzCase> {
  const ok = registerBody(t).map((body): FuzzCase => {
    const expected = registerExpectation(body, t);
    return {
      category: 'register',
      req: {
        method: 'POST',
        path: '/v1/snapshots',
        headers: [...auth(t), ...json()],
        body: JSON.stringify(body),
      },
      expected,
      ...(expected[0] === 422 || expected[0] === 200
        ? { registers: snapshotWorkflowId(String(body.projectId), String(body.workItemId)) }
        : {}),
    };
  });
  const body = registerBody(t).map((b) => JSON.stringify(b));
  const badType = fc
    .tuple(
      body,
      fc.constantFrom(
        'text/plain',
        'application/xml',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'image/png',
      ),
    )
    .map(([b, type]): FuzzCase => ({
      category: 'register-content-type',
      req: { method: 'POST', path: '/v1/snapshots', headers: [...auth(t), ['content-type', type]], body: b },
      expected: DOCUMENTED.unsupportedType,
    }));
  const noType = body.map((b): FuzzCase => ({
    category: 'register-content-type',
    req: { method: 'POST', path: '/v1/snapshots', headers: auth(t), body: b },
    expected: DOCUMENTED.unsupportedType,
  }));
  const badJson = fc
    .oneof(
      body.chain((b) => fc.nat({ max: Math.max(0, b.length - 1) }).map((n) => b.slice(0, n))),
      fc.constantFrom(
        '{',
        '{"projectId":}',
        "{'a':1}",
        'null',
        '[]',
        '"x"',
        '42',
        'true',
        '{"a":1}{"b":2}',
        '\uFEFF{}',
      ),
      fc.string({ unit: 'binary', maxLength: 40 }),
    )
    .map((b): FuzzCase => ({
      category: 'register-bad-json',
      req: { method: 'POST', path: '/v1/snapshots', headers: [...auth(t), ...json()], body: b },
      expected: [400],
    }));
  const unauthorized = fc.tuple(badAuth(t), body).map(([headers, b]): FuzzCase => ({
    category: 'bad-auth',
    req: { method: 'POST', path: '/v1/snapshots', headers: [...headers, ...json()], body: b },
    expected: [401],
  }));
  return fc.oneof(
    { arbitrary: ok, weight: 10 },
    { arbitrary: badType, weight: 2 },
    { arbitrary: noType, weight: 1 },
    { arbitrary: badJson, weight: 3 },
    { arbitrary: unauthorized, weight: 2 },
  );
}

function itemCases(t: FuzzTargets): fc.Arbitrary<FuzzCase> {
  const ids = fc
    .tuple(oddId, oddId)
    .chain(([p, w]) => fc.tuple(segment(p), segment(w)).map(([sp, sw]) => ({ p, w, sp, sw })));
  // A route that matched with two valid ids says 404 for "no snapshot"; anything odd is a 400
  // (invalid id) or a 404 (no route matched).
  const expect = (
    x: { p: string; w: string; sp: { exact: boolean }; sw: { exact: boolean } },
    ok: readonly number[],
  ) => (x.sp.exact && x.sw.exact && isValidId(x.p) && isValidId(x.w) ? ok : [400, 404]);
  const lookup = fc.tuple(ids, fc.option(badAuth(t), { freq: 6 })).map(([x, bad]): FuzzCase => ({
    category: bad ? 'bad-auth' : 'lookup',
    req: { method: 'GET', path: `/v1/snapshots/${x.sp.text}/${x.sw.text}`, headers: bad ?? auth(t) },
    expected: bad ? expect(x, [401]).concat(401) : expect(x, [404, ...DOCUMENTED.temporalBusy]),
  }));
  const reason = fc.oneof(
    fc.constant(undefined),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
    fc.constantFrom('', 'x'.repeat(REASON_MAX_LENGTH + 1)),
  );
  const invalidate = fc
    .tuple(ids, reason, fc.option(badAuth(t), { freq: 6 }))
    .map(([x, r, bad]): FuzzCase => {
      const query = r === undefined ? '' : `?reason=${encodeURIComponent(r)}`;
      const reasonOk = r === undefined || (r.length >= 1 && r.length <= REASON_MAX_LENGTH);
      return {
        category: bad ? 'bad-auth' : 'invalidate',
        req: {
          method: 'DELETE',
          path: `/v1/snapshots/${x.sp.text}/${x.sw.text}${query}`,
          headers: bad ?? auth(t),
        },
        expected: bad
          ? expect(x, [401]).concat(401)
          : reasonOk
            ? expect(x, [404, ...DOCUMENTED.temporalBusy])
            : [400, 404],
      };
    });
  const prBody = fc.oneof(
    fc
      .record({ repository: fc.constant(t.repository), number: fc.integer({ min: 1, max: 2 ** 31 - 1 }) })
      .map((b) => ({ b, ok: true })),
    fc
      .constantFrom<unknown>(
        {},
        { repository: 'nope', number: 1 },
        { repository: t.repository, number: -3 },
        { repository: t.repository, number: '7' },
        [],
        null,
      )
      .map((b) => ({ b, ok: false })),
  );
  const link = fc.tuple(ids, prBody).map(([x, { b, ok }]): FuzzCase => ({
    category: 'link',
    req: {
      method: 'PUT',
      path: `/v1/snapshots/${x.sp.text}/${x.sw.text}/pull-request`,
      headers: [...auth(t), ...json()],
      body: JSON.stringify(b),
    },
    expected: ok ? expect(x, [404, ...DOCUMENTED.temporalBusy]) : [400, 404],
  }));
  return fc.oneof(
    { arbitrary: lookup, weight: 4 },
    { arbitrary: invalidate, weight: 3 },
    { arbitrary: link, weight: 2 },
  );
}

function listCases(t: FuzzTargets): fc.Arbitrary<FuzzCase> {
  const entry = fc.oneof(
    fc.tuple(fc.constant('projectId'), fc.oneof(oddId, fc.constant(t.sentinels[0]?.projectId ?? 'x'))),
    fc.tuple(
      fc.constant('state'),
      fc.constantFrom('active', 'invalidated', 'removal-blocked', 'removed', 'ACTIVE', '', 'kept?'),
    ),
    fc.tuple(fc.constant('host'), fc.constantFrom(t.host, '', 'bad host', 'x'.repeat(64))),
    fc.tuple(
      fc.constant('pageSize'),
      fc.constantFrom('1', '2', '50', '200', '0', '201', '-1', '1.5', 'abc', ''),
    ),
    fc.tuple(
      fc.constant('cursor'),
      fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/), fc.constantFrom('!!', '%00')),
    ),
    fc.tuple(fc.constant('view'), fc.constantFrom('summary', 'full', 'FULL', '')),
    fc.tuple(fc.constantFrom('bogus', 'page', '__proto__', 'constructor'), fc.constant('1')),
  );
  return fc.uniqueArray(entry, { maxLength: 4, selector: ([k]) => k }).chain((entries) =>
    fc.boolean().map((duplicate): FuzzCase => {
      const dup = duplicate && entries.length > 0;
      const all = dup && entries[0] ? [...entries, entries[0]] : entries;
      const query = all.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
      const valid =
        !dup &&
        entries.every(([k, v]) => {
          if (k === 'projectId') return isValidId(v);
          if (k === 'state') return ['active', 'invalidated', 'removal-blocked', 'removed'].includes(v);
          if (k === 'host') return HOST_ID_PATTERN.test(v);
          if (k === 'pageSize') return /^(?:[1-9]|[1-9][0-9]|1[0-9]{2}|200)$/.test(v);
          if (k === 'cursor') return /^[A-Za-z0-9_-]*$/.test(v) && v.length === 0;
          if (k === 'view') return v === 'summary' || v === 'full';
          return false;
        });
      // A cursor that did not come from a previous page is refused; an empty one is no cursor.
      const hasCursor = entries.some(([k, v]) => k === 'cursor' && v.length > 0);
      return {
        category: 'list',
        req: { method: 'GET', path: `/v1/snapshots${query ? `?${query}` : ''}`, headers: auth(t) },
        expected: valid && !hasCursor ? [200, ...DOCUMENTED.temporalBusy] : [400],
      };
    }),
  );
}

// ---- webhooks ------------------------------------------------------------------------------

function mergePayload(t: FuzzTargets, number: number, headRef: string, extra: Record<string, unknown> = {}) {
  const now = new Date().toISOString();
  return {
    action: 'closed',
    number,
    pull_request: {
      number,
      merged: true,
      merged_at: now,
      closed_at: now,
      state: 'closed',
      head: { ref: headRef, repo: { full_name: t.repository } },
      base: { ref: 'main', repo: { full_name: t.repository } },
    },
    repository: {
      full_name: t.repository,
      name: t.repository.split('/')[1],
      owner: { login: t.repository.split('/')[0] },
    },
    ...extra,
  };
}

const deliveryId = fc.stringMatching(/^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/);

function webhookHeaders(
  event: string | null,
  delivery: string | null,
  type: string | null,
): Array<[string, string]> {
  const h: Array<[string, string]> = [];
  if (type !== null) h.push(['content-type', type]);
  if (event !== null) h.push(['x-github-event', event]);
  if (delivery !== null) h.push(['x-github-delivery', delivery]);
  h.push(['user-agent', 'GitHub-Hookshot/fuzz']);
  return h;
}

/** Forged deliveries that would end a sentinel if they were believed: all must be 401. */
function forgedCases(t: FuzzTargets): fc.Arbitrary<FuzzCase> {
  const sentinel = fc.constantFrom(...t.sentinels);
  return fc
    .tuple(
      sentinel,
      deliveryId,
      fc.constantFrom(
        'missing',
        'random',
        'truncated',
        'wrong-secret',
        'altered',
        'stale',
        'sha1',
        'empty',
        'duplicated',
        'prefix-only',
        'no-prefix',
      ),
      fc.constantFrom<string | null>(
        'application/json',
        'application/json',
        'text/plain',
        'application/x-www-form-urlencoded',
        null,
        'x/y;;',
      ),
      fc.nat(),
      fc.stringMatching(/^[a-f0-9]{64}$/),
    )
    .map(([s, delivery, kind, type, n, hex]): FuzzCase => {
      const body = JSON.stringify(mergePayload(t, s.pullRequest, `fz-${s.workItemId}`));
      const good = hmac(body, t.secret);
      let sent = body;
      const sigs: string[] = [];
      switch (kind) {
        case 'missing':
          break;
        case 'random':
          sigs.push(`sha256=${hex}`);
          break;
        case 'truncated':
          sigs.push(good.slice(0, n % good.length));
          break;
        case 'wrong-secret':
          sigs.push(hmac(body, `${t.secret}-not`));
          break;
        case 'altered':
          sigs.push(good);
          sent =
            n % 3 === 0
              ? `${body} `
              : n % 3 === 1
                ? body.replace('"merged":true', '"merged":true ')
                : JSON.stringify(JSON.parse(body), null, 1);
          break;
        case 'stale':
          sigs.push(hmac(JSON.stringify(mergePayload(t, s.pullRequest + 1, 'fz-stale')), t.secret));
          break;
        case 'sha1':
          sigs.push(hmac(body, t.secret, 'sha1'));
          break;
        case 'empty':
          sigs.push(good);
          sent = '';
          break;
        case 'duplicated':
          sigs.push(`sha256=${hex}`, good);
          break;
        case 'prefix-only':
          sigs.push('sha256=');
          break;
        case 'no-prefix':
          sigs.push(good.slice('sha256='.length));
          break;
      }
      const headers = webhookHeaders('pull_request', delivery, type);
      for (const sig of sigs) headers.push([SIG, sig]);
      return {
        category: `webhook-forged-${kind}`,
        req: { method: 'POST', path: '/webhooks/github', headers, body: sent },
        expected: DOCUMENTED.forgedWebhook,
      };
    });
}

/** Correctly signed deliveries that are not readable events, or that concern nothing of ours. */
function signedCases(t: FuzzTargets): fc.Arbitrary<FuzzCase> {
  const unrelatedPr = fc.integer({ min: 70_000, max: 80_000 });
  const ref = fc.stringMatching(/^fz-[A-Za-z0-9._/-]{0,20}$/);
  const sign = (
    category: string,
    body: string,
    headers: Array<[string, string]>,
    expected: readonly number[],
  ): FuzzCase => ({
    category,
    req: {
      method: 'POST',
      path: '/webhooks/github',
      headers: [...headers, [SIG, hmac(body, t.secret)]],
      body,
    },
    expected,
  });
  const malformedJson = fc
    .tuple(
      deliveryId,
      fc.oneof(
        fc.constantFrom('{', '[1,2', 'nul', '{"action":}', "{'a':1}", '\uFEFF{}x'),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
      ),
    )
    .filter(([, b]) => {
      try {
        const v: unknown = JSON.parse(b);
        return typeof v !== 'object' || v === null || Array.isArray(v);
      } catch {
        return true;
      }
    })
    .map(([d, b]) =>
      sign('webhook-bad-json', b, webhookHeaders('pull_request', d, 'application/json'), [400]),
    );
  const notObject = fc
    .tuple(deliveryId, fc.constantFrom('[]', '42', '"x"', 'null', 'true'))
    .map(([d, b]) =>
      sign('webhook-not-object', b, webhookHeaders('pull_request', d, 'application/json'), [400]),
    );
  const badHeaders = fc
    .tuple(
      unrelatedPr,
      ref,
      fc.constantFrom<[string | null, string | null]>(
        [null, 'ok-delivery'],
        ['', 'ok-delivery'],
        ['Pull_Request', 'ok-delivery'],
        ['x'.repeat(65), 'ok-delivery'],
        ['pull-request', 'ok-delivery'],
        ['pull_request', null],
        ['pull_request', ''],
        ['pull_request', 'bad delivery'],
        ['pull_request', 'x'.repeat(129)],
        ['pull_request', 'a/b'],
      ),
    )
    .map(([n, r, [event, delivery]]) =>
      sign(
        'webhook-bad-headers',
        JSON.stringify(mergePayload(t, n, r)),
        webhookHeaders(event, delivery, 'application/json'),
        [400],
      ),
    );
  const brokenFields = fc
    .tuple(
      deliveryId,
      unrelatedPr,
      ref,
      fc.constantFrom<Array<[string, unknown]>>(
        [['number', '7']],
        [['pull_request', null]],
        [['pull_request', 'x']],
        [['repository', null]],
        [['repository', { full_name: 'no-slash' }]],
        [['repository', { full_name: 42 }]],
        [['action', 7]],
        [['action', null]],
      ),
      fc.constantFrom<Array<[string, unknown]>>(
        [['number', -1]],
        [['number', 1.5]],
        [['number', 2 ** 31]],
        [['head', {}]],
        [['head', { ref: 7 }]],
        [['merged', 'true']],
        [['merged', 1]],
      ),
      fc.boolean(),
    )
    .map(([d, n, r, top, inPr, useTop]) => {
      const payload = mergePayload(t, n, r) as Record<string, unknown>;
      if (useTop) {
        for (const [k, v] of top) payload[k] = v;
        // The route reads pull_request.number first; only without it does a top-level one count.
        if (top.some(([k]) => k === 'number'))
          delete (payload.pull_request as Record<string, unknown>).number;
      } else {
        const pr = payload.pull_request as Record<string, unknown>;
        for (const [k, v] of inPr) pr[k] = v;
        payload.number = undefined;
      }
      return sign(
        'webhook-broken-fields',
        JSON.stringify(payload),
        webhookHeaders('pull_request', d, 'application/json'),
        [400],
      );
    });
  const ignored = fc
    .tuple(
      deliveryId,
      unrelatedPr,
      ref,
      fc.constantFrom(
        'ping',
        'push',
        'issues',
        'check_run',
        'pull_request:opened',
        'pull_request:closed-unmerged',
        'pull_request:reopened',
      ),
    )
    .map(([d, n, r, what]) => {
      const [event, action] = what.split(':') as [string, string | undefined];
      const payload = mergePayload(t, n, r) as Record<string, unknown> & {
        pull_request: Record<string, unknown>;
      };
      if (action === 'opened' || action === 'reopened') payload.action = action;
      if (action === 'closed-unmerged') {
        payload.pull_request.merged = false;
        payload.pull_request.merged_at = null;
      }
      const body = event === 'pull_request' ? payload : { zen: 'fuzz', hook_id: n };
      return sign(
        'webhook-ignored',
        JSON.stringify(body),
        webhookHeaders(event, d, 'application/json'),
        [200],
      );
    });
  const unrelatedMerge = fc.tuple(deliveryId, unrelatedPr, ref, fc.boolean()).map(([d, n, r, form]) => {
    const text = JSON.stringify(mergePayload(t, n, r));
    const body = form ? `payload=${encodeURIComponent(text)}` : text;
    return sign(
      'webhook-unrelated-merge',
      body,
      webhookHeaders('pull_request', d, form ? 'application/x-www-form-urlencoded' : 'application/json'),
      DOCUMENTED.mergeAccepted,
    );
  });
  const formWithoutPayload = deliveryId.map((d) =>
    sign(
      'webhook-form-no-payload',
      'other=1',
      webhookHeaders('pull_request', d, 'application/x-www-form-urlencoded'),
      [400],
    ),
  );
  return fc.oneof(
    { arbitrary: malformedJson, weight: 2 },
    { arbitrary: notObject, weight: 1 },
    { arbitrary: badHeaders, weight: 2 },
    { arbitrary: brokenFields, weight: 2 },
    { arbitrary: ignored, weight: 2 },
    { arbitrary: unrelatedMerge, weight: 2 },
    { arbitrary: formWithoutPayload, weight: 1 },
  );
}

function strayCases(t: FuzzTargets): fc.Arbitrary<FuzzCase> {
  return fc
    .tuple(
      fc.constantFrom('GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS'),
      fc.constantFrom(
        '/',
        '/v1',
        '/v1/',
        '/v2/snapshots',
        '/webhooks',
        '/webhooks/gitlab',
        '/v1/snapshots/a',
        '/v1/snapshots/a/b/c',
        '/healthz/x',
        '/%',
        '/..%2f..%2f',
        '/v1/snapshots/a/b/pull-request/x',
      ),
    )
    .map(([method, path]): FuzzCase => ({
      category: 'stray-route',
      req: { method, path, headers: auth(t) },
      expected: [400, 404],
    }));
}

/** Every request kind, weighted so that most reach validation and a fair share reach Temporal. */
export function fuzzCase(t: FuzzTargets): fc.Arbitrary<FuzzCase> {
  return fc.oneof(
    { arbitrary: registerCases(t), weight: 30 },
    { arbitrary: itemCases(t), weight: 20 },
    { arbitrary: listCases(t), weight: 8 },
    { arbitrary: forgedCases(t), weight: 20 },
    { arbitrary: signedCases(t), weight: 18 },
    { arbitrary: strayCases(t), weight: 4 },
  );
}
