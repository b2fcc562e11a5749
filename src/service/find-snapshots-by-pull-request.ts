// The open snapshot workflows linked to one pull request, found through visibility. Used by the
// merge webhook; eventually consistent like every visibility read, so a link made a moment before
// the merge may be missed here; the branch rule is the second path that catches those.
import { REPOSITORY_PATTERN } from '../shared/limits.js';
import { SEARCH_ATTRIBUTES, parseSnapshotWorkflowId } from '../shared/names.js';
import type { PullRequestRef } from '../shared/types.js';
import type { VisibilityClient } from './list-snapshots.js';
import { SNAPSHOT_WORKFLOW_TYPE, visibilityLiteral } from './list-snapshots.js';

export interface WorkItemRef {
  projectId: string;
  workItemId: string;
}

const PAGE_SIZE = 500;
/** A pull request linked to more work items than this is almost certainly a mistake; stop there. */
export const MAX_LINKED_WORK_ITEMS = 5000;

export function pullRequestQuery(pr: PullRequestRef): string {
  if (!REPOSITORY_PATTERN.test(pr.repository)) throw new Error('repository must be "owner/name"');
  if (!Number.isInteger(pr.number) || pr.number < 1) throw new Error('number must be a positive integer');
  return [
    `WorkflowType = ${visibilityLiteral(SNAPSHOT_WORKFLOW_TYPE)}`,
    `ExecutionStatus = 'Running'`,
    `${SEARCH_ATTRIBUTES.repository} = ${visibilityLiteral(pr.repository)}`,
    `${SEARCH_ATTRIBUTES.pullRequest} = ${pr.number}`,
  ].join(' AND ');
}

export async function findSnapshotsByPullRequest(
  client: VisibilityClient,
  pr: PullRequestRef,
): Promise<WorkItemRef[]> {
  const query = pullRequestQuery(pr);
  const found = new Map<string, WorkItemRef>();
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query,
      pageSize: PAGE_SIZE,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const raw of page.executions ?? []) {
      const workflowId = raw.execution?.workflowId ?? '';
      const ids = parseSnapshotWorkflowId(workflowId);
      if (ids) found.set(workflowId, ids);
    }
    nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
  } while (nextPageToken && found.size < MAX_LINKED_WORK_ITEMS);
  return [...found.values()];
}
