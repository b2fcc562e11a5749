// Valid requests in hostile order for one work item: merges before the registration they should
// end, the same delivery again and again, registrations racing each other. Whatever the order,
// each answer is a documented one, and at the end only the workflow's current image is on disk.
import { createHmac, randomUUID } from 'node:crypto';
import fc from 'fast-check';

export type HostileOp =
  | { op: 'register'; linkPr: boolean }
  | { op: 'register-again' }
  | { op: 'interleave' }
  | { op: 'merge'; times: number }
  | { op: 'redeliver' }
  | { op: 'merge-then-register' }
  | { op: 'invalidate' }
  | { op: 'lookup' };

export const hostileSequence: fc.Arbitrary<HostileOp[]> = fc.array(
  fc.oneof(
    { arbitrary: fc.boolean().map((linkPr): HostileOp => ({ op: 'register', linkPr })), weight: 4 },
    { arbitrary: fc.constant<HostileOp>({ op: 'register-again' }), weight: 1 },
    { arbitrary: fc.constant<HostileOp>({ op: 'interleave' }), weight: 2 },
    {
      arbitrary: fc.integer({ min: 1, max: 4 }).map((times): HostileOp => ({ op: 'merge', times })),
      weight: 3,
    },
    { arbitrary: fc.constant<HostileOp>({ op: 'redeliver' }), weight: 2 },
    { arbitrary: fc.constant<HostileOp>({ op: 'merge-then-register' }), weight: 2 },
    { arbitrary: fc.constant<HostileOp>({ op: 'invalidate' }), weight: 2 },
    { arbitrary: fc.constant<HostileOp>({ op: 'lookup' }), weight: 2 },
  ),
  { minLength: 4, maxLength: 10 },
);

export interface HostileDeps {
  projectId: string;
  workItemId: string;
  repository: string;
  /** Head branch the policy's branch rule maps to this work item. */
  headRef: string;
  secret: string;
  firstPullRequest: number;
  commit(): Promise<{ image: string; imageId: string }>;
  /** Sends a request through the fuzz client; the answer is checked by the caller's oracle. */
  send(
    category: string,
    method: string,
    path: string,
    headers: Array<[string, string]>,
    body: string | undefined,
    expected: readonly number[],
  ): Promise<number>;
  authHeaders: Array<[string, string]>;
}

export interface HostileOutcome {
  images: string[];
}

/** Runs one sequence; returns every image id it committed, for the end-of-run disk check. */
export async function runHostileSequence(ops: HostileOp[], d: HostileDeps): Promise<HostileOutcome> {
  const images: string[] = [];
  let pr = d.firstPullRequest;
  let lastImage: string | undefined;
  const deliveries: Array<{ body: string; headers: Array<[string, string]> }> = [];
  const itemPath = `/v1/snapshots/${encodeURIComponent(d.projectId)}/${encodeURIComponent(d.workItemId)}`;
  const json: Array<[string, string]> = [['content-type', 'application/json']];

  const register = async (linkPr: boolean, image?: string) => {
    let ref = image;
    if (!ref) {
      const c = await d.commit();
      images.push(c.imageId);
      ref = c.image;
    }
    lastImage = ref;
    const body = JSON.stringify({
      projectId: d.projectId,
      workItemId: d.workItemId,
      image: ref,
      ...(linkPr ? { pullRequest: { repository: d.repository, number: pr } } : {}),
    });
    // A new image: created or replaced. The same image again: unchanged, or refused once it is
    // on its way out (400) or gone (422). Linked to a pull request that already merged: 409.
    const expected = image ? [200, 201, 400, 409, 422, 503] : [200, 201, 409, 503];
    await d.send('hostile-register', 'POST', '/v1/snapshots', [...d.authHeaders, ...json], body, expected);
  };

  const merge = async (times: number) => {
    const now = new Date().toISOString();
    const body = JSON.stringify({
      action: 'closed',
      number: pr,
      pull_request: {
        number: pr,
        merged: true,
        merged_at: now,
        closed_at: now,
        head: { ref: d.headRef, repo: { full_name: d.repository } },
        base: { ref: 'main', repo: { full_name: d.repository } },
      },
      repository: { full_name: d.repository },
    });
    const headers: Array<[string, string]> = [
      ['content-type', 'application/json'],
      ['x-github-event', 'pull_request'],
      ['x-github-delivery', randomUUID()],
      ['x-hub-signature-256', `sha256=${createHmac('sha256', d.secret).update(body).digest('hex')}`],
    ];
    deliveries.push({ body, headers });
    for (let i = 0; i < times; i++)
      await d.send('hostile-merge', 'POST', '/webhooks/github', headers, body, [200, 202, 503]);
  };

  for (const op of ops) {
    switch (op.op) {
      case 'register':
        await register(op.linkPr);
        break;
      case 'register-again':
        if (lastImage) await register(false, lastImage);
        break;
      case 'interleave':
        await Promise.all([register(false), register(true)]);
        break;
      case 'merge':
        await merge(op.times);
        pr++;
        break;
      case 'redeliver': {
        const first = deliveries[0];
        if (first)
          await d.send(
            'hostile-redeliver',
            'POST',
            '/webhooks/github',
            first.headers,
            first.body,
            // A merge is answered 202 (durable hand-off), every time it is delivered.
            [200, 202, 503],
          );
        break;
      }
      case 'merge-then-register':
        await merge(1);
        await register(true);
        pr++;
        break;
      case 'invalidate':
        await d.send('hostile-invalidate', 'DELETE', itemPath, d.authHeaders, undefined, [202, 404, 503]);
        break;
      case 'lookup':
        await d.send('hostile-lookup', 'GET', itemPath, d.authHeaders, undefined, [200, 404, 503]);
        break;
    }
  }
  return { images };
}
