// The visibility look for a merged pull request's snapshots, shared by the looks that wait at the
// same moment: while one look of a repository is in flight, the pull requests of that repository
// that come meanwhile wait for it and then go together in one query (`SnapshotPullRequest IN (…)`),
// each answered with its own rows. A look that comes alone goes at once, exactly as before. Visibility
// is the scarce part of a merge webhook: the server limits its requests per namespace (100 a second
// on the dev server, 10 by default on a cluster), and every delivery looked once in the API and
// again in its pull request workflow; a burst of merges (issue 19's B4) queued on that limit.
import { AsyncResource } from 'node:async_hooks';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import { parseSnapshotWorkflowId } from '../contract/names.js';
import type { WorkItemRef } from '../contract/pull-request-types.js';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes.js';
import type { PullRequestRef } from '../contract/snapshot-types.js';
import { pullRequestQuery, pullRequestsQuery } from './find-snapshots-by-pull-request.js';
import type { RawExecutionInfo, VisibilityClient } from './visibility.js';

/** The open snapshot workflows linked to one pull request. */
export type FindLinkedSnapshots = (pr: PullRequestRef) => Promise<WorkItemRef[]>;

/** Pull requests asked in one query at most: the query text stays far below visibility's limits. */
export const MAX_PULL_REQUESTS_PER_LOOK = 100;

const PAGE_SIZE = 500;
const MAX_VISIBILITY_PAGE = 1000;

interface Waiter {
  resolve: (found: WorkItemRef[]) => void;
  reject: (err: unknown) => void;
}

interface RepositoryLooks {
  /** Pull request numbers waiting for the next look, each with everyone who asked. */
  waiting: Map<number, Waiter[]>;
  busy: boolean;
}

export interface CoalescedLookupOptions {
  pageSize?: number;
  /**
   * Runs each shared query, e.g. under a deadline of its own (the API's fast pass). A query belongs
   * to no single caller, so it never runs in a caller's call context (the Temporal connection's
   * deadline of the delivery that happened to start it).
   */
  runQuery?: <T>(query: () => Promise<T>) => Promise<T>;
}

export function coalescedPullRequestLookup(
  client: VisibilityClient,
  options: CoalescedLookupOptions = {},
): FindLinkedSnapshots {
  const repositories = new Map<string, RepositoryLooks>();
  // The async context of whoever created the lookup (the API or worker at start-up), not of the
  // first caller: the connection keeps a call's deadline in async-local storage, and a drain that
  // ran on in the first delivery's context would give every later batch that delivery's deadline.
  const root = new AsyncResource('coalesced-pull-request-lookup');
  const runQuery = options.runQuery ?? (<T>(query: () => Promise<T>) => query());

  async function drain(repository: string, looks: RepositoryLooks): Promise<void> {
    looks.busy = true;
    try {
      while (looks.waiting.size > 0) {
        const numbers = [...looks.waiting.keys()].slice(0, MAX_PULL_REQUESTS_PER_LOOK);
        const waiters = numbers.map((n) => {
          const w = looks.waiting.get(n) ?? [];
          looks.waiting.delete(n);
          return w;
        });
        try {
          const found = await runQuery(() =>
            lookOnce(client, repository, numbers, options.pageSize ?? PAGE_SIZE),
          );
          numbers.forEach((n, i) => {
            for (const w of waiters[i] ?? []) w.resolve(found.get(n) ?? []);
          });
        } catch (err) {
          for (const w of waiters.flat()) w.reject(err);
        }
      }
    } finally {
      looks.busy = false;
      repositories.delete(repository);
    }
  }

  return (pr) => {
    // Validated here, before the delivery waits for anyone: a bad reference fails alone.
    pullRequestQuery(pr);
    let looks = repositories.get(pr.repository);
    if (!looks) {
      looks = { waiting: new Map(), busy: false };
      repositories.set(pr.repository, looks);
    }
    const current = looks;
    return new Promise<WorkItemRef[]>((resolve, reject) => {
      current.waiting.set(pr.number, [...(current.waiting.get(pr.number) ?? []), { resolve, reject }]);
      if (!current.busy) root.runInAsyncScope(() => void drain(pr.repository, current));
    });
  };
}

/** One query, every page, its rows by pull request number (one number: the single look's own query). */
async function lookOnce(
  client: VisibilityClient,
  repository: string,
  numbers: number[],
  pageSize: number,
): Promise<Map<number, WorkItemRef[]>> {
  const only = numbers.length === 1 ? numbers[0] : undefined;
  const query =
    only !== undefined
      ? pullRequestQuery({ repository, number: only })
      : pullRequestsQuery(repository, numbers);
  const byNumber = new Map<number, Map<string, WorkItemRef>>();
  let token: Uint8Array | undefined;
  do {
    const response = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query,
      pageSize: Math.max(1, Math.min(pageSize, MAX_VISIBILITY_PAGE)),
      ...(token ? { nextPageToken: token } : {}),
    });
    for (const e of response.executions ?? []) {
      const workflowId = e.execution?.workflowId;
      const ids = workflowId ? parseSnapshotWorkflowId(workflowId) : undefined;
      const number = only ?? pullRequestOf(e);
      if (!workflowId || !ids || number === undefined) continue;
      const found = byNumber.get(number) ?? new Map<string, WorkItemRef>();
      found.set(workflowId, ids);
      byNumber.set(number, found);
    }
    const next = response.nextPageToken;
    token = next && next.length > 0 ? next : undefined;
  } while (token);
  return new Map([...byNumber].map(([n, found]) => [n, [...found.values()]]));
}

function pullRequestOf(e: RawExecutionInfo): number | undefined {
  const payload: Payload | undefined = e.searchAttributes?.indexedFields?.[SEARCH_ATTRIBUTES.pullRequest];
  if (!payload) return undefined;
  try {
    const value: unknown = defaultPayloadConverter.fromPayload(payload);
    const n = Number(Array.isArray(value) ? value[0] : value);
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
