import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import type { Harness } from './api-fakes.js';
import { SECRET, buildApp, execution, sign, state } from './api-fakes.js';
import type { Delivery } from './api-github-payloads.js';
import { delivery, otherEvent, pullRequestEvent, signature } from './api-github-payloads.js';
import { Readable } from 'node:stream';
import { mergedAtBound } from '../../src/api/webhooks/parse-pull-request-event.js';
import { DURABLE_FOLLOW_UP_DELAY_MS } from '../../src/api/webhooks/dispatch-pull-request.js';

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

  it('merged: signals every linked workflow and the branch-rule work items, with the signed event key', async () => {
    h = buildApp();
    linked(7, ['p1', 'w1'], ['p2', 'w/2'], ['acme', 'TICKET-7']);
    const deliveryId = randomUUID();
    const d = merged(7, 'TICKET-7-fix-login', { deliveryId });
    const pr = JSON.parse(d.body).pull_request;
    const eventKey = `${mergedAtBound(pr.merged_at)}/${String(pr.head.sha).slice(0, 12)}`;
    const res = await post(d);
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toMatchObject({
      event: 'pull_request',
      deliveryId,
      outcome: 'merged',
      workflowId: 'pull-request:codertocat%2Fhello-world:7:merged',
    });
    // Handed off first, with the branch-rule targets the API derived.
    expect(h.service.calls.handOff).toEqual([
      {
        kind: 'merged',
        pullRequest: { repository: REPO, number: 7 },
        deliveryId,
        eventKey,
        at: expect.any(String),
        branchTargets: [{ projectId: 'acme', workItemId: 'TICKET-7' }],
      },
    ]);
    expect(h.temporal.queries[0]?.query).toBe(
      "WorkflowType = 'snapshotWorkflow' AND ExecutionStatus = 'Running' AND SnapshotRepository = 'Codertocat/Hello-World' AND SnapshotPullRequest = 7",
    );
    // acme/TICKET-7 is both linked and derived from the branch: signalled once.
    const signalled = h.service.calls.merged.map(([p, w]) => `${p}:${w}`).sort();
    expect(signalled).toEqual(['acme:TICKET-7', 'p1:w1', 'p2:w/2']);
    for (const [p, , signal] of h.service.calls.merged) {
      expect(signal).toEqual({
        pullRequest: { repository: REPO, number: 7 },
        // The workflow drops a repeated merge by this: the signed key, not the delivery header.
        deliveryId: `codertocat%2Fhello-world:7:merged:${eventKey}`,
        mergedAt: expect.any(String),
        // Found by its link, or (acme/TICKET-7) by the branch rule, which also ends an unlinked image.
        match: p === 'acme' ? 'branch' : 'link',
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
    expect(res.statusCode).toBe(202);
    expect(res.json().workItems).toEqual([
      { projectId: 'other', workItemId: 'login-page', match: 'branch', signalled: true },
    ]);
    // A repository spelled differently in case still matches the rule.
    const other = delivery(
      'pull_request',
      pullRequestEvent({ repository: 'codertocat/hello-world', number: 9, headRef: 'TICKET-9' }),
      SECRET,
    );
    expect((await post(other)).json().workItems).toEqual([
      { projectId: 'acme', workItemId: 'TICKET-9', match: 'branch', signalled: false },
    ]);
  });

  it('merged with nothing to end: 202 with no work items (still handed off: a link may show later)', async () => {
    h = buildApp();
    const res = await post(merged(10, 'no-rule-matches'));
    expect(res.statusCode).toBe(202);
    expect(h.service.calls.handOff).toHaveLength(1);
    expect(res.json()).toMatchObject({ outcome: 'merged', workItems: [] });
  });

  it('an answered merge says where its time went (Server-Timing): signature, hand-off, the look and the signals', async () => {
    h = buildApp();
    linked(11, ['p1', 'w1']);
    const res = await post(merged(11, 'no-rule-matches'));
    expect(res.statusCode).toBe(202);
    const timing = String(res.headers['server-timing']);
    for (const phase of ['verify', 'hand-off', 'fast-pass', 'lookup', 'signals'])
      expect(timing).toMatch(new RegExp(`(^|, )${phase};dur=\\d+\\.\\d\\b`));
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
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ outcome: 'invalidated' });
    expect(h.service.calls.handOff[0]).toMatchObject({ kind: 'closed', deliveryId: 'dd-12' });
    expect(h.service.calls.merged).toHaveLength(0);
    expect(h.service.calls.invalidate).toEqual([
      ['acme', 'TICKET-12', `pull request ${REPO}#12 closed without merge (delivery dd-12)`],
    ]);
    // Only an image meant by that pull request: linked to it, or unlinked on a rule's branch.
    expect(h.service.calls.invalidateScopes).toEqual([
      { pullRequest: { repository: REPO, number: 12 }, match: 'branch', occurredAt: expect.any(String) },
    ]);
  });

  it('a replayed delivery is harmless: same answer, and a snapshot registered since survives', async () => {
    h = buildApp();
    linked(13, ['acme', 'TICKET-13']);
    const d = merged(13, 'TICKET-13', { deliveryId: 'replayed-13' });
    const first = await post(d);
    expect(first.statusCode).toBe(202);
    expect(h.service.active.size).toBe(0);
    // The router registers a new snapshot for the work item; then GitHub redelivers.
    h.service.active.set(snapshotWorkflowId('acme', 'TICKET-13'), state('acme', 'TICKET-13'));
    const again = await post(d);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    const keys = new Set(h.service.calls.merged.map(([, , s]) => s.deliveryId));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^codertocat%2Fhello-world:13:merged:/);
    expect(h.service.active.size).toBe(1);
  });

  // Issue 17: X-GitHub-Delivery is not signed; a captured body replayed under fresh delivery ids
  // must be the same close, for the workflow it names and for the de-duplication of its signals.
  it('the same signed merge under two delivery ids: one workflow, one de-duplication key; the replay ends nothing new', async () => {
    h = buildApp();
    linked(14, ['acme', 'TICKET-14']);
    const payload = pullRequestEvent({ repository: REPO, number: 14, headRef: 'TICKET-14' });
    const first = await post(delivery('pull_request', payload, SECRET, { deliveryId: 'captured-1' }));
    expect(first.statusCode).toBe(202);
    expect(h.service.active.size).toBe(0);
    h.service.active.set(snapshotWorkflowId('acme', 'TICKET-14'), state('acme', 'TICKET-14'));
    const replay = await post(delivery('pull_request', payload, SECRET, { deliveryId: 'forged-2' }));
    expect(replay.statusCode).toBe(202);
    expect(replay.json().workflowId).toBe(first.json().workflowId);
    const [a, b] = h.service.calls.handOff;
    expect(a?.eventKey).toBeDefined();
    expect(b?.eventKey).toBe(a?.eventKey);
    expect(new Set(h.service.calls.merged.map(([, , s]) => s.deliveryId)).size).toBe(1);
    // The fake drops a repeated key as the workflow does: the snapshot registered since survives.
    expect(h.service.active.size).toBe(1);
  });

  it('the same signed close without merge under two delivery ids names one workflow; another close another one', async () => {
    h = buildApp({ onCloseWithoutMerge: 'invalidate' });
    const payload = pullRequestEvent({ repository: REPO, number: 15, headRef: 'TICKET-15', merged: false });
    const first = await post(delivery('pull_request', payload, SECRET, { deliveryId: 'close-1' }));
    const replay = await post(delivery('pull_request', payload, SECRET, { deliveryId: 'close-2' }));
    expect(first.statusCode).toBe(202);
    expect(replay.statusCode).toBe(202);
    const id = first.json().workflowId as string;
    expect(id).toMatch(/^pull-request:codertocat%2Fhello-world:15:closed:/);
    expect(id).not.toContain('close-1');
    expect(replay.json().workflowId).toBe(id);
    // Reopened and closed again later (another closed_at): another close, another workflow.
    const pr = payload.pull_request as Record<string, unknown>;
    const again = structuredClone(payload);
    (again.pull_request as Record<string, unknown>).closed_at = new Date(
      Date.parse(pr.closed_at as string) + 60_000,
    ).toISOString();
    const second = await post(delivery('pull_request', again, SECRET, { deliveryId: 'close-3' }));
    expect(second.json().workflowId).not.toBe(id);
    // And at another head commit, another close too.
    const moved = structuredClone(payload);
    ((moved.pull_request as Record<string, unknown>).head as Record<string, unknown>).sha = 'f'.repeat(40);
    const third = await post(delivery('pull_request', moved, SECRET, { deliveryId: 'close-4' }));
    expect(new Set([id, second.json().workflowId, third.json().workflowId]).size).toBe(3);
  });

  it('signals go out concurrently', async () => {
    h = buildApp();
    const items = Array.from({ length: 20 }, (_, i) => [`p${i}`, `w${i}`] as [string, string]);
    linked(14, ...items);
    h.service.signalDelayMs = 50;
    const res = await post(merged(14, 'x'));
    expect(res.statusCode).toBe(202);
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
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ outcome: 'merged' });
  });

  it('a pull_request body fits 1 MiB (GitHub caps a description at 65,536 characters); above is 413', async () => {
    h = buildApp();
    linked(16, ['acme', 'TICKET-16']);
    const big = pullRequestEvent({ repository: REPO, number: 16, headRef: 'TICKET-16' });
    (big.pull_request as Record<string, unknown>).body = 'é'.repeat(65_536);
    expect((await post(delivery('pull_request', big, SECRET))).statusCode).toBe(202);
    const huge = pullRequestEvent({ repository: REPO, number: 16, headRef: 'TICKET-16' });
    (huge.pull_request as Record<string, unknown>).body = 'x'.repeat(1024 * 1024);
    const res = await post(delivery('pull_request', huge, SECRET));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'PayloadTooLarge' });
  });

  it('other events are answered without reading their body, whatever its size', async () => {
    h = buildApp();
    const push = { ...otherEvent('push'), padding: 'x'.repeat(3 * 1024 * 1024) };
    const res = await post(delivery('push', push, SECRET, { deliveryId: 'big-push' }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ event: 'push', deliveryId: 'big-push', outcome: 'ignored' });
  });
});

describe('raw bytes', () => {
  it('the signature is checked over the bytes as sent, even bytes that are not valid UTF-8', async () => {
    h = buildApp();
    const payload = pullRequestEvent({ repository: REPO, number: 17, headRef: 'TICKET-17' });
    (payload.pull_request as Record<string, unknown>).title = 'MARK';
    const text = JSON.stringify(payload);
    const at = Buffer.from(text).indexOf('MARK');
    // A lone 0xff byte in the title: decoding it to a string would change the signed bytes.
    const body = Buffer.concat([
      Buffer.from(text).subarray(0, at),
      Buffer.from([0xff]),
      Buffer.from(text).subarray(at + 4),
    ]);
    const res = await h.app.inject({
      method: 'POST',
      url: '/webhooks/github',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'pull_request',
        'x-github-delivery': 'raw-1',
        'x-hub-signature-256': sign(body),
      },
      payload: body,
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ outcome: 'merged' });
  });
});

describe('headers first', () => {
  /** A body that never ends: only an answer given before reading it can come back. */
  const endless = () => new Readable({ read() {} });
  const headers = (extra: Record<string, string | undefined>) => {
    const base: Record<string, string> = {
      'content-type': 'application/json',
      'x-github-event': 'pull_request',
      'x-github-delivery': 'hdr-1',
      'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
    };
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete base[k];
      else base[k] = v;
    }
    return base;
  };

  it.each([
    ['no signature', { 'x-hub-signature-256': undefined }, 401, 'InvalidSignature'],
    ['a signature that is not sha256=<hex>', { 'x-hub-signature-256': 'sha1=abc' }, 401, 'InvalidSignature'],
    ['no event', { 'x-github-event': undefined }, 400, 'MalformedPayload'],
    ['no delivery id', { 'x-github-delivery': undefined }, 400, 'MalformedPayload'],
  ] as const)('%s: refused before the body is read', async (_name, extra, status, error) => {
    h = buildApp();
    const res = await h.app.inject({
      method: 'POST',
      url: '/webhooks/github',
      headers: headers(extra),
      payload: endless(),
    });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ error });
    expect(h.service.calls.handOff).toHaveLength(0);
  });
});

describe('forks', () => {
  it('a merged pull request from a fork matches no branch rule, even with a branch named like a work item; its links still count', async () => {
    h = buildApp();
    linked(40, ['p1', 'w1']);
    h.service.active.set(snapshotWorkflowId('acme', 'TICKET-40'), state('acme', 'TICKET-40'));
    const payload = pullRequestEvent({
      repository: REPO,
      number: 40,
      headRef: 'TICKET-40',
      headRepository: 'mallory/Hello-World',
    });
    const res = await post(delivery('pull_request', payload, SECRET));
    expect(res.statusCode).toBe(202);
    expect(res.json().workItems).toEqual([
      { projectId: 'p1', workItemId: 'w1', match: 'link', signalled: true },
    ]);
    expect(h.service.calls.handOff[0]?.branchTargets).toEqual([]);
    expect(h.service.active.has(snapshotWorkflowId('acme', 'TICKET-40'))).toBe(true);
  });

  it('a deleted fork (head.repo null) matches no branch rule either', async () => {
    h = buildApp();
    h.service.active.set(snapshotWorkflowId('acme', 'TICKET-41'), state('acme', 'TICKET-41'));
    const payload = pullRequestEvent({
      repository: REPO,
      number: 41,
      headRef: 'TICKET-41',
      headRepository: null,
    });
    const res = await post(delivery('pull_request', payload, SECRET));
    expect(res.statusCode).toBe(202);
    expect(res.json().workItems).toEqual([]);
    expect(h.service.active.size).toBe(1);
  });

  it('the same repository spelled in another case is not a fork', async () => {
    h = buildApp();
    const payload = pullRequestEvent({
      repository: REPO,
      number: 42,
      headRef: 'TICKET-42',
      headRepository: REPO.toUpperCase(),
    });
    const res = await post(delivery('pull_request', payload, SECRET));
    expect(res.json().workItems).toEqual([
      { projectId: 'acme', workItemId: 'TICKET-42', match: 'branch', signalled: false },
    ]);
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
  it('the hand-off to Temporal fails: 503, so GitHub records a failed delivery to redeliver', async () => {
    h = buildApp();
    linked(30, ['acme', 'TICKET-30']);
    h.service.handOffFailWith = Object.assign(new Error('14 UNAVAILABLE'), { code: 14 });
    const res = await post(merged(30, 'TICKET-30'));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'TemporalUnavailable' });
    // The fast pass runs beside the hand-off, so it may have signalled the merge already: harmless,
    // the redelivery's signal is a duplicate the workflow ignores.
    expect(h.service.calls.merged.length).toBeLessThanOrEqual(1);
  });

  it('visibility unavailable in the fast pass: still 202 once handed off, without workItems', async () => {
    h = buildApp();
    h.temporal.listError = Object.assign(new Error('14 UNAVAILABLE'), { code: 14 });
    const res = await post(merged(31, 'TICKET-31'));
    expect(res.statusCode).toBe(202);
    expect(res.json()).not.toHaveProperty('workItems');
    expect(h.service.calls.handOff).toHaveLength(1);
  });

  it('a failed signal in the fast pass: 202 (the workflow retries it), counted as failed; deadlines below 10 s', async () => {
    h = buildApp();
    linked(32, ['acme', 'TICKET-32']);
    h.service.failWith = new Error('signal failed');
    const before = Date.now();
    const res = await post(merged(32, 'TICKET-32'));
    expect(res.statusCode).toBe(202);
    expect(res.json().workItems).toEqual([
      { projectId: 'acme', workItemId: 'TICKET-32', match: 'branch', signalled: false },
    ]);
    const text = (await h.app.inject('/metrics')).body;
    expect(text).toContain('snapkeeper_webhook_signals_total{kind="merged",result="failed"} 1');
    const [handOff, fast] = h.temporal.deadlines.slice(-2) as [number, number];
    expect(handOff - before).toBeLessThan(10_000);
    expect(fast - before).toBeLessThan(10_000);
  });

  it('without the fast pass only the hand-off happens', async () => {
    h = buildApp({ fastPass: false });
    linked(33, ['p1', 'w1']);
    const res = await post(merged(33, 'x'));
    expect(res.statusCode).toBe(202);
    expect(res.json()).not.toHaveProperty('workItems');
    expect(h.service.calls.handOff).toHaveLength(1);
    expect(h.service.calls.merged).toHaveLength(0);
    // The workflow is the only pass: it looks at once.
    expect(h.service.calls.handOffDelays).toEqual([0]);
  });

  it('beside the fast pass the durable workflow is recorded at once and looks a moment later', async () => {
    h = buildApp();
    linked(35, ['p1', 'w1']);
    const res = await post(merged(35, 'x'));
    expect(res.statusCode).toBe(202);
    expect(res.json().workItems).toEqual([
      { projectId: 'p1', workItemId: 'w1', match: 'link', signalled: true },
    ]);
    expect(h.service.calls.handOffDelays).toEqual([DURABLE_FOLLOW_UP_DELAY_MS]);
  });

  it('metrics count deliveries by event and outcome', async () => {
    h = buildApp();
    await post(delivery('ping', otherEvent('ping'), SECRET));
    await post(merged(32, 'x'));
    await post(
      delivery('pull_request', pullRequestEvent({ repository: REPO, number: 34, headRef: 'x' }), 'wrong'),
    );
    const text = (await h.app.inject('/metrics')).body;
    expect(text).toContain('snapkeeper_webhook_deliveries_total{event="ping",outcome="ignored"} 1');
    expect(text).toContain('snapkeeper_webhook_deliveries_total{event="pull_request",outcome="merged"} 1');
    expect(text).toContain(
      'snapkeeper_webhook_deliveries_total{event="unverified",outcome="bad-signature"} 1',
    );
  });
});
