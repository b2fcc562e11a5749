// The open snapshot workflows linked to one pull request, found through visibility, every page.
// Eventually consistent like every visibility read: a link made a moment before the merge may be
// missed by one look, which is why the per-pull-request workflow looks again later, and why a link
// made after the merge is checked against the merge record instead.
import { REPOSITORY_PATTERN } from '../contract/limits.js';
import { parseSnapshotWorkflowId } from '../contract/names.js';
import type { WorkItemRef } from '../contract/pull-request-types.js';
import type { PullRequestRef } from '../contract/snapshot-types.js';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes.js';
import type { VisibilityClient } from './visibility.js';
import { RUNNING, attributeEquals, listAllWorkflowIds, snapshotWorkflowsQuery } from './visibility.js';

const PAGE_SIZE = 500;

export function pullRequestQuery(pr: PullRequestRef): string {
  if (!REPOSITORY_PATTERN.test(pr.repository)) throw new Error('repository must be "owner/name"');
  if (!Number.isInteger(pr.number) || pr.number < 1) throw new Error('number must be a positive integer');
  return snapshotWorkflowsQuery(
    RUNNING,
    attributeEquals('repository', pr.repository),
    attributeEquals('pullRequest', pr.number),
  );
}

/** The open snapshot workflows linked to any of these pull requests of one repository. */
export function pullRequestsQuery(repository: string, numbers: readonly number[]): string {
  if (!REPOSITORY_PATTERN.test(repository)) throw new Error('repository must be "owner/name"');
  if (numbers.length === 0 || numbers.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error('numbers must be positive integers');
  return snapshotWorkflowsQuery(
    RUNNING,
    attributeEquals('repository', repository),
    `${SEARCH_ATTRIBUTES.pullRequest} IN (${numbers.join(', ')})`,
  );
}

export async function findSnapshotsByPullRequest(
  client: VisibilityClient,
  pr: PullRequestRef,
  options: { pageSize?: number } = {},
): Promise<WorkItemRef[]> {
  const found = new Map<string, WorkItemRef>();
  for (const workflowId of await listAllWorkflowIds(
    client,
    pullRequestQuery(pr),
    options.pageSize ?? PAGE_SIZE,
  )) {
    const ids = parseSnapshotWorkflowId(workflowId);
    if (ids) found.set(workflowId, ids);
  }
  return [...found.values()];
}
