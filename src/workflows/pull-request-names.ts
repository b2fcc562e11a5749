// Ids of the per-pull-request workflows, which operators script against and which registration
// and linking consult. Pure: bundled into workflow code.
import type { PullRequestRef } from '../shared/types.js';

export const PULL_REQUEST_WORKFLOW_ID_PREFIX = 'pull-request:';

// GitHub treats owner/name case-insensitively, and a link may spell it differently from the
// webhook: the record of a merge must be found whatever the spelling.
function prKey(pr: PullRequestRef): string {
  return `${encodeURIComponent(pr.repository.toLowerCase())}:${pr.number}`;
}

/**
 * The workflow that ends everything a merged pull request keeps alive. One per pull request, so a
 * redelivery (or a second hook) finds it instead of starting another; it stays findable by id after
 * it completes (within the namespace's retention), which is the durable record that the pull
 * request merged.
 */
export function mergedPullRequestWorkflowId(pr: PullRequestRef): string {
  return `${PULL_REQUEST_WORKFLOW_ID_PREFIX}${prKey(pr)}:merged`;
}

/** A close without merge can be followed by a reopen and another close: one workflow per delivery. */
export function closedPullRequestWorkflowId(pr: PullRequestRef, deliveryId: string): string {
  return `${PULL_REQUEST_WORKFLOW_ID_PREFIX}${prKey(pr)}:closed:${encodeURIComponent(deliveryId)}`;
}

export function samePullRequest(a: PullRequestRef | null | undefined, b: PullRequestRef): boolean {
  return !!a && a.number === b.number && a.repository.toLowerCase() === b.repository.toLowerCase();
}

export function pullRequestKey(pr: PullRequestRef): string {
  return prKey(pr);
}
