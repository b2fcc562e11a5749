import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { snapshotWorkflowId } from '../../src/shared/names.js';
import type { Harness } from './api-fakes.js';
import { SECRET, buildApp, execution, state } from './api-fakes.js';
import type { Delivery } from './api-github-payloads.js';
import { delivery, otherEvent, pullRequestEvent, signature } from './api-github-payloads.js';
import { mergedAtBound } from '../../src/api/routes/webhooks.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.app.close();
  h = undefined;
});

const REPO = 'Codertocat/Hello-World';

function post(d: Delivery) {
  return (h as Harness).app.inject({
    method: 'POST',
    url: '/webhooks/github',
    headers: d.headers,
    payload: d.body,
  });
}

function merged(number: number, headRef: string, options: { deliveryId?: string } = {}) {
  return delivery('pull_request', pullRequestEvent({ repository: REPO, number, headRef }), SECRET, options);
}

/** Registers active snapshots in the fake and has visibility return them as linked to the PR. */
function linked(number: number, ...items: Array<[string, string]>) {
  const hh = h as Harness;
  for (const [p, w] of items) {
    hh.service.active.set(
      snapshotWorkflowId(p, w),
      state(p, w, { pullRequest: { repository: REPO, number } }),
    );
  }
  hh.temporal.rows = (query) =>
    query.includes(`SnapshotPullRequest = ${number}`)
      ? {
          executions: items.map(([p, w]) =>
            execution(state(p, w, { pullRequest: { repository: REPO, number } })),
          ),
        }
      : { executions: [] };
}

describe('signature', () => {
  it('no secret configured: every delivery is refused with 503, signed or not', async () => {
    h = buildApp({ secret: null });
    for (const d of [merged(1, 'x'), delivery('ping', otherEvent('ping'), SECRET, { signature: null })]) {
      const res = await post(d);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: 'WebhookSecretMissing' });
    }
    expect(h.temporal.queries).toHaveLength(0);
    expect(h.service.calls.merged).toHaveLength(0);
  });

  it.each([
    ['missing', null],
    ['forged', `sha256=${'0'.repeat(64)}`],
    ['stale (a signature of another body)', signature('{"action":"closed"}', SECRET)],
    ['made with another secret', undefined],
    ['without the sha256= prefix', 'PLACEHOLDER_NO_PREFIX'],
    ['empty', ''],
  ])('%s signature: 401 and nothing is signalled', async (_name, sig) => {
    h = buildApp();
    linked(2, ['acme', 'TICKET-1']);
    const payload = pullRequestEvent({ repository: REPO, number: 2, headRef: 'TICKET-1' });
    let d = delivery('pull_request', payload, SECRET, sig === undefined ? {} : { signature: sig });
    if (sig === undefined) d = delivery('pull_request', payload, 'another-secret');
    if (sig === 'PLACEHOLDER_NO_PREFIX') {
      d.headers['x-hub-signature-256'] = signature(d.body, SECRET).slice('sha256='.length);
    }
    const res = await post(d);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'InvalidSignature' });
    expect(h.temporal.queries).toHaveLength(0);
    expect(h.service.calls.merged).toHaveLength(0);
    expect(h.service.active.size).toBe(1);
  });

  it('a sha1 X-Hub-Signature alone is not enough', async () => {
    h = buildApp();
    const d = merged(3, 'TICKET-3', {});
    delete d.headers['x-hub-signature-256'];
    d.headers['x-hub-signature'] = 'sha1=0000000000000000000000000000000000000000';
    expect((await post(d)).statusCode).toBe(401);
  });

  it('a body changed after signing is refused', async () => {
    h = buildApp();
    const d = merged(3, 'TICKET-3');
    d.body = d.body.replace('"number":3', '"number":4');
    expect((await post(d)).statusCode).toBe(401);
  });
});

describe('events', () => {
  it.each(['ping', 'push', 'issues', 'check_run'] as const)('%s: 2xx, ignored', async (event) => {
    h = buildApp();
    const res = await post(delivery(event, otherEvent(event), SECRET, { deliveryId: 'd-1' }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ event, deliveryId: 'd-1', outcome: 'ignored' });
    expect(h.temporal.queries).toHaveLength(0);
  });

  it('pull_request actions other than closed are ignored', async () => {
    h = buildApp();
    for (const action of ['opened', 'synchronize', 'reopened']) {
      const payload = pullRequestEvent({
        repository: REPO,
        number: 5,
        headRef: 'TICKET-5',
        merged: false,
        action,
      });
      const res = await post(delivery('pull_request', payload, SECRET));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ outcome: 'ignored', reason: `action ${action} is not handled` });
    }
    expect(h.service.calls.merged).toHaveLength(0);
  });

  it('merged: signals every linked workflow and the branch-rule work items, with the delivery id', async () => {
    h = buildApp();
    linked(7, ['p1', 'w1'], ['p2', 'w/2'], ['acme', 'TICKET-7']);
    const deliveryId = randomUUID();
    const res = await post(merged(7, 'TICKET-7-fix-login', { deliveryId }));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ event: 'pull_request', deliveryId, outcome: 'merged' });
    expect(h.temporal.queries[0]?.query).toBe(
      "WorkflowType = 'snapshotWorkflow' AND ExecutionStatus = 'Running' AND SnapshotRepository = 'Codertocat/Hello-World' AND SnapshotPullRequest = 7",
    );
    // acme/TICKET-7 is both linked and derived from the branch: signalled once.
    const signalled = h.service.calls.merged.map(([p, w]) => `${p}:${w}`).sort();
    expect(signalled).toEqual(['acme:TICKET-7', 'p1:w1', 'p2:w/2']);
    for (const [, , signal] of h.service.calls.merged) {
      expect(signal).toEqual({
        pullRequest: { repository: REPO, number: 7 },
        deliveryId,
        mergedAt: expect.any(String),
      });
      expect(Date.now() - Date.parse(signal.mergedAt as string)).toBeLessThan(60_000);
    }
    expect(body.workItems).toHaveLength(3);
    expect(h.service.active.size).toBe(0);
  });

  it('merged: a branch rule alone finds the work item (no link, other rule syntax)', async () => {
    h = buildApp();
    h.service.active.set(snapshotWorkflowId('other', 'login-page'), state('other', 'login-page'));
    const res = await post(merged(8, 'feature/login-page'));
    expect(res.statusCode).toBe(200);
    expect(res.json().workItems).toEqual([{ projectId: 'other', workItemId: 'login-page', signalled: true }]);
    // A repository spelled differently in case still matches the rule.
    const other = delivery(
      'pull_request',
      pullRequestEvent({ repository: 'codertocat/hello-world', number: 9, headRef: 'TICKET-9' }),
      SECRET,
    );
    expect((await post(other)).json().workItems).toEqual([
      { projectId: 'acme', workItemId: 'TICKET-9', signalled: false },
    ]);
  });

  it('merged with nothing to end: 200 with no work items', async () => {
    h = buildApp();
    const res = await post(merged(10, 'no-rule-matches'));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ outcome: 'merged', workItems: [] });
  });

  it('closed without merge: no effect by default', async () => {
    h = buildApp();
    linked(11, ['acme', 'TICKET-11']);
    const payload = pullRequestEvent({ repository: REPO, number: 11, headRef: 'TICKET-11', merged: false });
    const res = await post(delivery('pull_request', payload, SECRET));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ outcome: 'ignored', reason: 'closed without merge' });
    expect(h.temporal.queries).toHaveLength(0);
    expect(h.service.active.size).toBe(1);
  });

  it('closed without merge with onCloseWithoutMerge=invalidate: invalidates instead', async () => {
    h = buildApp({ onCloseWithoutMerge: 'invalidate' });
    linked(12, ['acme', 'TICKET-12']);
    const payload = pullRequestEvent({ repository: REPO, number: 12, headRef: 'TICKET-12', merged: false });
    const res = await post(delivery('pull_request', payload, SECRET, { deliveryId: 'dd-12' }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ outcome: 'invalidated' });
    expect(h.service.calls.merged).toHaveLength(0);
    expect(h.service.calls.invalidate).toEqual([
      ['acme', 'TICKET-12', `pull request ${REPO}#12 closed without merge (delivery dd-12)`],
    ]);
  });

  it('a replayed delivery is harmless: same answer, and a snapshot registered since survives', async () => {
    h = buildApp();
    linked(13, ['acme', 'TICKET-13']);
    const d = merged(13, 'TICKET-13', { deliveryId: 'replayed-13' });
    const first = await post(d);
    expect(first.statusCode).toBe(200);
    expect(h.service.active.size).toBe(0);
    // The router registers a new snapshot for the work item; then GitHub redelivers.
    h.service.active.set(snapshotWorkflowId('acme', 'TICKET-13'), state('acme', 'TICKET-13'));
    const again = await post(d);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(h.service.calls.merged.every(([, , s]) => s.deliveryId === 'replayed-13')).toBe(true);
    expect(h.service.active.size).toBe(1);
  });

  it('signals go out concurrently', async () => {
    h = buildApp();
    const items = Array.from({ length: 20 }, (_, i) => [`p${i}`, `w${i}`] as [string, string]);
    linked(14, ...items);
    h.service.signalDelayMs = 50;
    const res = await post(merged(14, 'x'));
    expect(res.statusCode).toBe(200);
    expect(h.service.maxInFlight).toBe(20);
  });

  it('a form-encoded delivery (payload=…) is verified on the raw form body', async () => {
    h = buildApp();
    linked(15, ['acme', 'TICKET-15']);
    const json = JSON.stringify(pullRequestEvent({ repository: REPO, number: 15, headRef: 'TICKET-15' }));
    const body = new URLSearchParams({ payload: json }).toString();
    const res = await h.app.inject({
      method: 'POST',
      url: '/webhooks/github',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-github-event': 'pull_request',
        'x-github-delivery': 'form-1',
        'x-hub-signature-256': signature(body, SECRET),
      },
      payload: body,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ outcome: 'merged' });
  });

  it('bodies far above the API limit are accepted (GitHub sends up to 25 MB); above 25 MB is 413', async () => {
    h = buildApp();
    const push = { ...otherEvent('push'), padding: 'x'.repeat(2 * 1024 * 1024) };
    expect((await post(delivery('push', push, SECRET))).statusCode).toBe(200);
    const huge = Buffer.alloc(25 * 1024 * 1024 + 10, 0x20);
    const res = await h.app.inject({
      method: 'POST',
      url: '/webhooks/github',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': 'big',
        'x-hub-signature-256': 'sha256=00',
      },
      payload: huge,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'PayloadTooLarge' });
  });
});

describe('mergedAt', () => {
  it("passes GitHub's merged_at, rounded up to the end of its second when it has whole seconds", () => {
    expect(mergedAtBound('2025-01-01T10:00:05Z')).toBe('2025-01-01T10:00:05.999Z');
    expect(mergedAtBound('2025-01-01T10:00:05.250Z')).toBe('2025-01-01T10:00:05.250Z');
    expect(mergedAtBound('2025-01-01T12:00:05+02:00')).toBe('2025-01-01T10:00:05.999Z');
    expect(mergedAtBound(null)).toBeUndefined();
    expect(mergedAtBound('yesterday')).toBeUndefined();
  });
});

describe('malformed deliveries (correctly signed) get 400', () => {
  const signed = (body: string, headers: Record<string, string | undefined> = {}): Delivery => {
    const base: Record<string, string> = {
      'content-type': 'application/json',
      'x-github-event': 'pull_request',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': signature(body, SECRET),
    };
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) delete base[k];
      else base[k] = v;
    }
    return { body, headers: base };
  };
  const valid = JSON.stringify(pullRequestEvent({ repository: REPO, number: 20, headRef: 'TICKET-20' }));
  const without = (mutate: (p: Record<string, unknown>) => void) => {
    const p = pullRequestEvent({ repository: REPO, number: 20, headRef: 'TICKET-20' });
    mutate(p);
    return JSON.stringify(p);
  };

  it.each([
    ['not JSON', signed('{"action": "closed",'), /JSON/],
    ['a JSON array', signed('[1,2]'), /object/],
    ['no X-GitHub-Event', signed(valid, { 'x-github-event': undefined }), /X-GitHub-Event/],
    ['an invalid X-GitHub-Event', signed(valid, { 'x-github-event': 'Pull Request!' }), /X-GitHub-Event/],
    ['no X-GitHub-Delivery', signed(valid, { 'x-github-delivery': undefined }), /X-GitHub-Delivery/],
    ['no pull_request', signed(without((p) => delete p.pull_request)), /pull_request/],
    [
      'no number',
      signed(
        without((p) => {
          delete p.number;
          delete (p.pull_request as Record<string, unknown>).number;
        }),
      ),
      /number/,
    ],
    [
      'a bad repository name',
      signed(without((p) => ((p.repository as Record<string, unknown>).full_name = 'no-slash'))),
      /repository/,
    ],
    [
      'no head.ref',
      signed(
        without(
          (p) => delete ((p.pull_request as Record<string, unknown>).head as Record<string, unknown>).ref,
        ),
      ),
      /head\.ref/,
    ],
    [
      'merged not a boolean',
      signed(without((p) => ((p.pull_request as Record<string, unknown>).merged = 'yes'))),
      /merged/,
    ],
  ])('%s', async (_name, d, part) => {
    h = buildApp();
    const res = await post(d);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('MalformedPayload');
    expect(res.json().message).toMatch(part);
    expect(h.service.calls.merged).toHaveLength(0);
  });
});

describe('failures', () => {
  it('visibility unavailable: 503, so GitHub records a failed delivery to redeliver', async () => {
    h = buildApp();
    h.temporal.listError = Object.assign(new Error('14 UNAVAILABLE'), { code: 14 });
    const res = await post(merged(30, 'TICKET-30'));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'TemporalUnavailable' });
  });

  it('a failed signal: 503 SignalFailed; the fan-out runs under a deadline below 10 s', async () => {
    h = buildApp();
    linked(31, ['acme', 'TICKET-31']);
    h.service.failWith = new Error('signal failed');
    const before = Date.now();
    const res = await post(merged(31, 'TICKET-31'));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'SignalFailed' });
    const deadline = h.temporal.deadlines.at(-1) as number;
    expect(deadline - before).toBeLessThan(10_000);
  });

  it('metrics count deliveries by event and outcome', async () => {
    h = buildApp();
    await post(delivery('ping', otherEvent('ping'), SECRET));
    await post(merged(32, 'x'));
    await post(delivery('ping', otherEvent('ping'), 'wrong'));
    const text = (await h.app.inject('/metrics')).body;
    expect(text).toContain('snapkeeper_webhook_deliveries_total{event="ping",outcome="ignored"} 1');
    expect(text).toContain('snapkeeper_webhook_deliveries_total{event="pull_request",outcome="merged"} 1');
    expect(text).toContain(
      'snapkeeper_webhook_deliveries_total{event="unverified",outcome="bad-signature"} 1',
    );
  });
});
