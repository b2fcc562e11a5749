// Which image a pull request's signal (a merge, a scoped invalidation) or a link check targets. Pure:
// used by the snapshot workflow's handlers.
import type { PullRequestMatch, PullRequestRef, SnapshotState } from '../../contract/snapshot-types.js';
import { samePullRequest } from '../../contract/names.js';

/**
 * A link match ends only an image linked to that pull request; a branch match (the work item's own
 * branch merged) also ends an image without a link, but never one linked to another pull request.
 */
export function targetedByPullRequest(
  image: Pick<SnapshotState, 'pullRequest'>,
  pr: PullRequestRef,
  match: PullRequestMatch | undefined,
): boolean {
  if (samePullRequest(image.pullRequest, pr)) return true;
  return match === 'branch' && image.pullRequest === null;
}
