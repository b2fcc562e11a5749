// The durable side of a closed pull request: once the webhook has handed a merge (or a close) over
// to this workflow, every snapshot it ends is signalled, whatever process crashes, because each
// look is retried until it succeeds. Visibility trails the snapshot workflows, so it looks again
// after a delay: a link made just before the merge shows in a later look. A link made after the
// merge is caught the other way round: registration and linking ask whether this workflow exists
// (see ./merge-guard.ts).
import { log, proxyActivities, sleep } from '@temporalio/workflow';
import type { PullRequestControlActivities } from '../../activities/pull-request-activities.js';
import type {
  PullRequestClosedInput,
  PullRequestClosedResult,
  PullRequestLook,
} from '../../contract/pull-request-types.js';
import { ACTIVITY_PROFILES } from '../shared/activity-profiles.js';
import {
  PULL_REQUEST_LOOKS_IN_ONE_ACTIVITY_PATCH,
  markedByEarlierWorker,
  usePatch,
} from '../shared/patches.js';
import { nowIso } from '../shared/workflow-helpers.js';

export type { PullRequestClosedInput, PullRequestClosedResult } from '../../contract/pull-request-types.js';

/** Seconds after the first look; visibility normally trails by well under a second. */
export const DEFAULT_LOOK_DELAYS_SECONDS = [10, 60];

/** What the last look (its visibility pages and signals) may take beyond its wait. */
const LAST_LOOK_SECONDS = 120;

const control = proxyActivities<PullRequestControlActivities>(ACTIVITY_PROFILES.pullRequestControl.options);

export async function pullRequestClosedWorkflow(
  input: PullRequestClosedInput,
): Promise<PullRequestClosedResult> {
  const { options, generation = 0, ...request } = input;
  const delays = options?.lookDelaysSeconds ?? DEFAULT_LOOK_DELAYS_SECONDS;
  const targets = { ...request, ...(options?.pageSize ? { pageSize: options.pageSize } : {}) };
  let looks: PullRequestLook[];
  if (lookInOneActivity(generation)) {
    // The same looks at the same times, waited for inside one activity: one action where a look
    // and a timer each were one (6 actions and 33 events a merge, now 3 and 13). Its attempt lasts
    // as long as the waits, so the timeout covers them; a worker that dies meanwhile is retried
    // after it (no heartbeat: each would be an action), a worker shutting down at once.
    const waits = Math.max(0, ...delays);
    const looker = proxyActivities<PullRequestControlActivities>({
      ...ACTIVITY_PROFILES.pullRequestControl.options,
      startToCloseTimeout: `${waits + LAST_LOOK_SECONDS} seconds`,
    });
    ({ looks } = await looker.lookForPullRequestTargets({
      ...targets,
      since: nowIso(),
      lookDelaysSeconds: delays,
    }));
  } else {
    looks = [];
    let waited = 0;
    for (const at of [0, ...delays]) {
      if (at > waited) {
        await sleep((at - waited) * 1000);
        waited = at;
      }
      const result = await control.signalPullRequestTargets(targets);
      looks.push({ at: new Date(Date.now()).toISOString(), ...result });
    }
  }
  log.info('pull request handled', {
    pullRequest: input.pullRequest,
    kind: input.kind,
    deliveryId: input.deliveryId,
    looks,
  });
  return { looks };
}

/**
 * A run started by code that has the looks in one activity (generation 1, set by the API) takes
 * them without the patch's marker and its TemporalChangeVersion upsert; the call while replaying
 * matches the marker of a worker of the previous code that took up its first task (which took the
 * same branch). Runs without a generation decide by the patch, as before.
 */
function lookInOneActivity(generation: number): boolean {
  if (generation < 1) return usePatch(PULL_REQUEST_LOOKS_IN_ONE_ACTIVITY_PATCH);
  markedByEarlierWorker(PULL_REQUEST_LOOKS_IN_ONE_ACTIVITY_PATCH);
  return true;
}
