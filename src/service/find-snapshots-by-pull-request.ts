// The open snapshot workflows linked to one pull request, found through visibility, every page.
// Eventually consistent like every visibility read: a link made a moment before the merge may be
// missed by one look, which is why the per-pull-request workflow looks again later, and why a link
// made after the merge is checked against the merge record instead.
import { REPOSITORY_PATTERN } from '../contract/limits.js';
import { WORKFLOW_TYPES, parseSnapshotWorkflowId } from '../contract/names.js';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes.js';
import type { PullRequestRef } from '../contract/snapshot-types.js';
import type { WorkItemRef } from '../contract/pull-request-types.js';
import type { VisibilityClient } from './list-snapshots.js';
import { visibilityLiteral } from './list-snapshots.js';

export type { WorkItemRef } from '../contract/pull-request-types.js';

const PAGE_SIZE = 500;

export function pullRequestQuery(pr: PullRequestRef): string {
  if (!REPOSITORY_PATTERN.test(pr.repository)) throw new Error('repository must be "owner/name"');
  if (!Number.isInteger(pr.number) || pr.number < 1) throw new Error('number must be a positive integer');
  return [
    `WorkflowType = ${visibilityLiteral(WORKFLOW_TYPES.snapshot)}`,
    `ExecutionStatus = 'Running'`,
    `${SEARCH_ATTRIBUTES.repository} = ${visibilityLiteral(pr.repository)}`,
    `${SEARCH_ATTRIBUTES.pullRequest} = ${pr.number}`,
  ].join(' AND ');
}

export async function findSnapshotsByPullRequest(
  client: VisibilityClient,
  pr: PullRequestRef,
  options: { pageSize?: number } = {},
): Promise<WorkItemRef[]> {
  const query = pullRequestQuery(pr);
  const found = new Map<string, WorkItemRef>();
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query,
      pageSize: options.pageSize ?? PAGE_SIZE,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const raw of page.executions ?? []) {
      const workflowId = raw.execution?.workflowId ?? '';
      const ids = parseSnapshotWorkflowId(workflowId);
      if (ids) found.set(workflowId, ids);
    }
    nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return [...found.values()];
}
