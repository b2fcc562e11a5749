// The snapshot workflow's side of "a merged pull request keeps nothing alive". A link (at
// registration or later) is first published, then checked against the merge record; the webhook
// first writes the record, then searches visibility (and again later, see
// workflow.ts). A link whose check found no record was published before the first
// search began, so a search finds it once visibility catches up: a link racing a merge ends either
// way. Workflow code.
import { log, proxyActivities } from '@temporalio/workflow';
import type { PullRequestControlActivities } from '../../activities/pull-request-activities.js';
import type { PullRequestRef } from '../../contract/snapshot-types.js';
import { pullRequestKey } from '../../contract/names.js';
import { ACTIVITY_PROFILES } from '../shared/activity-profiles.js';

const control = proxyActivities<Pick<PullRequestControlActivities, 'isPullRequestMerged'>>(
  ACTIVITY_PROFILES.mergeCheck.options,
);

/**
 * Pull requests whose merge this run received by signal or found recorded, carried over
 * continue-as-new; bounded, oldest forgotten first.
 */
export const REMEMBERED_MERGES = 200;

export function rememberMerge(merged: string[], pr: PullRequestRef): void {
  const key = pullRequestKey(pr);
  if (merged.includes(key)) return;
  merged.push(key);
  if (merged.length > REMEMBERED_MERGES) merged.shift();
}

/** Whether this pull request's merge is among those remembered (see rememberMerge). */
export function mergeRemembered(merged: string[], pr: PullRequestRef): boolean {
  return merged.includes(pullRequestKey(pr));
}

/**
 * Whether the merge record of this pull request exists. A failed check lets the link stand (the
 * caller is waiting, and the webhook's later look still finds a link made before it): logged.
 */
export async function mergeRecorded(pr: PullRequestRef): Promise<boolean> {
  try {
    return await control.isPullRequestMerged(pr);
  } catch (err) {
    log.warn('could not check whether the pull request merged; the link stands', {
      pullRequest: pr,
      error: err instanceof Error ? err.message : String(err),
    });
    return false;
  }
}
