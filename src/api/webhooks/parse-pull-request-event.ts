// Reads a verified pull_request delivery into the few facts snapkeeper acts on.
import { REPOSITORY_PATTERN } from '../../contract/limits.js';
import { malformed } from './webhook-preflight.js';

export interface PullRequestEvent {
  action: string;
  repository: string;
  number: number;
  headRef: string;
  /** Where the head branch lives (a fork's name for a pull request from a fork); null when unknown. */
  headRepository: string | null;
  merged: boolean;
  /** pull_request.head.sha: the commit the pull request was closed at; null when absent. */
  headSha: string | null;
  /** GitHub's merged_at, rounded up to the end of its second. */
  mergedAt?: string;
  closedAt?: string;
}

/**
 * GitHub's merged_at (and closed_at) has whole seconds; a merge "at 10:00:05Z" happened before
 * 10:00:06, so the end of that second is the bound the workflow compares image creation times
 * with (an image registered within that second is still ended by the merge, never wrongly spared).
 */
export function mergedAtBound(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  const wholeSeconds = !/\.\d+/.test(value);
  return new Date(wholeSeconds ? ms + 999 : ms).toISOString();
}

/** The signed body as JSON: the body itself, or the `payload` field of a form post. */
export function parsePayload(raw: Buffer, contentType: string | undefined): Record<string, unknown> {
  let text = raw.toString('utf8');
  if (contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) throw malformed('form-encoded delivery without a payload field');
    text = payload;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('the payload is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw malformed('the payload is not a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function object(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

export function readPullRequestEvent(payload: Record<string, unknown>): PullRequestEvent {
  const action = payload.action;
  if (typeof action !== 'string') throw malformed('pull_request payload without an action');
  const pr = object(payload.pull_request);
  const repo = object(payload.repository);
  if (!pr) throw malformed('pull_request payload without pull_request');
  if (!repo) throw malformed('pull_request payload without repository');
  const number = pr.number ?? payload.number;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > 2 ** 31 - 1)
    throw malformed('pull_request.number must be a positive integer');
  const repository = repo.full_name;
  if (typeof repository !== 'string' || !REPOSITORY_PATTERN.test(repository))
    throw malformed('repository.full_name must be "owner/name"');
  const head = object(pr.head);
  const headRef = head?.ref;
  if (typeof headRef !== 'string') throw malformed('pull_request.head.ref must be a string');
  const merged = pr.merged;
  if (merged !== undefined && merged !== null && typeof merged !== 'boolean')
    throw malformed('pull_request.merged must be a boolean');
  // head.repo is null when the fork was deleted.
  const headName = object(head?.repo)?.full_name;
  const headRepository = typeof headName === 'string' ? headName : null;
  // Part of the close's identity (pullRequestEventKey); the body is signed, so whatever it says is GitHub's.
  const sha =
    typeof head?.sha === 'string' && /^[0-9a-f]{7,64}$/i.test(head.sha) ? head.sha.toLowerCase() : null;
  const mergedAt = mergedAtBound(pr.merged_at);
  const closedAt = mergedAtBound(pr.closed_at);
  return {
    action,
    repository,
    number,
    headRef,
    headRepository,
    merged: merged === true,
    headSha: sha,
    ...(mergedAt ? { mergedAt } : {}),
    ...(closedAt ? { closedAt } : {}),
  };
}
