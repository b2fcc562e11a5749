// Real GitHub webhook payloads (from @octokit/webhooks-examples), adapted to a test's repository,
// pull request and branch, and signed the way GitHub signs them.
import { createHmac, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { WebhookDefinition } from '@octokit/webhooks-examples';

const definitions = createRequire(import.meta.url)('@octokit/webhooks-examples') as WebhookDefinition[];

function example(event: string, action?: string): Record<string, unknown> {
  const def = definitions.find((d) => d.name === event);
  const found = def?.examples.find(
    (e) => action === undefined || (e as { action?: string }).action === action,
  );
  if (!found)
    throw new Error(`no ${event}${action ? `.${action}` : ''} example in @octokit/webhooks-examples`);
  return structuredClone(found) as unknown as Record<string, unknown>;
}

export interface PullRequestEventOptions {
  repository: string;
  number: number;
  headRef: string;
  merged?: boolean;
  action?: string;
  /** The repository the head branch lives in: another one for a pull request from a fork, null for a deleted fork. */
  headRepository?: string | null;
}

/** The `pull_request` example with the given repository, number, branch and merge flag. */
export function pullRequestEvent(o: PullRequestEventOptions): Record<string, unknown> {
  const payload = example(
    'pull_request',
    o.action === undefined || o.action === 'closed' ? 'closed' : o.action,
  );
  const [owner, name] = o.repository.split('/') as [string, string];
  const merged = o.merged ?? true;
  payload.action = o.action ?? 'closed';
  payload.number = o.number;
  const repo = payload.repository as Record<string, unknown>;
  repo.full_name = o.repository;
  repo.name = name;
  (repo.owner as Record<string, unknown>).login = owner;
  const pr = payload.pull_request as Record<string, unknown>;
  pr.number = o.number;
  pr.merged = merged;
  // As GitHub sends them: the close (and merge) happen now, after the snapshot was registered.
  const now = new Date().toISOString();
  pr.merged_at = merged ? now : null;
  pr.closed_at = payload.action === 'closed' ? now : null;
  pr.state = payload.action === 'closed' ? 'closed' : 'open';
  const head = pr.head as Record<string, unknown>;
  head.ref = o.headRef;
  const headRepository = o.headRepository === undefined ? o.repository : o.headRepository;
  if (headRepository === null) head.repo = null;
  else {
    const headRepo = structuredClone(repo);
    headRepo.full_name = headRepository;
    if (headRepository.toLowerCase() !== o.repository.toLowerCase()) headRepo.id = Number(repo.id) + 1;
    head.repo = headRepo;
  }
  ((pr.base as Record<string, unknown>).repo as Record<string, unknown>).full_name = o.repository;
  return payload;
}

export function otherEvent(event: 'ping' | 'push' | 'issues' | 'check_run'): Record<string, unknown> {
  return example(event);
}

export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface Delivery {
  body: string;
  headers: Record<string, string>;
}

/** A delivery as GitHub sends it: JSON body, event, delivery id, and the HMAC of the body. */
export function delivery(
  event: string,
  payload: unknown,
  secret: string,
  options: { deliveryId?: string; signature?: string | null } = {},
): Delivery {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/test',
    'x-github-event': event,
    'x-github-delivery': options.deliveryId ?? randomUUID(),
    'x-github-hook-id': '1',
  };
  const sig = options.signature === undefined ? signature(body, secret) : options.signature;
  if (sig !== null) headers['x-hub-signature-256'] = sig;
  return { body, headers };
}
