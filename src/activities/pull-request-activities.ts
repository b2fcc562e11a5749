// Control activities of the per-pull-request workflow and of the snapshot workflow's merge check.
// They talk to Temporal only (visibility, signals, describe) and run on the workflow queue.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TargetSignaller } from '../service/signal-pull-request-targets.js';
import { signalPullRequestTargets as signalTargets } from '../service/signal-pull-request-targets.js';
import { mergedPullRequestWorkflowId, snapshotWorkflowId } from '../contract/names.js';
import type { PullRequestRef } from '../contract/snapshot-types.js';
import { invalidateSignal, mergedSignal } from '../contract/messages.js';
import type {
  PullRequestClosedResult,
  PullRequestLooksRequest,
  PullRequestTargetsRequest,
} from '../contract/pull-request-types.js';
import { activityContext } from './activity-context.js';
import type { ControlDeps } from './control-client.js';
import { requireClient } from './control-client.js';
import { signalOpen } from '../service/signal-open.js';
import { throwIfCancelled } from './until-cancelled.js';

export interface TargetsSignalled {
  found: number;
  signalled: number;
}

function signallerFor(client: Client): TargetSignaller {
  const handle = (p: string, w: string) => client.workflow.getHandle(snapshotWorkflowId(p, w));
  // A signal started after the activity's cancellation would not be aborted: none starts.
  const unlessCancelled = <T>(send: () => Promise<T>) => {
    throwIfCancelled();
    return send();
  };
  return {
    merged: (p, w, signal) =>
      unlessCancelled(() => signalOpen(() => handle(p, w).signal(mergedSignal, signal))),
    invalidate: (p, w, signal) =>
      unlessCancelled(() => signalOpen(() => handle(p, w).signal(invalidateSignal, signal))),
  };
}

/** Waits, ended early by the activity's cancellation (a worker shutting down), which it throws. */
async function waitUnlessCancelled(ms: number): Promise<void> {
  const ctx = activityContext();
  if (ctx) await ctx.sleep(ms);
  else await new Promise((resolve) => setTimeout(resolve, ms));
}

export function createPullRequestControlActivities({ client, log }: ControlDeps) {
  // No shared (coalesced) look here, unlike the API's fast pass: a look shared by several
  // activities runs outside each one's context, so cancelling an activity (a worker shutdown)
  // would leave its visibility call open; each activity's own look is aborted with it
  // (test/unit/until-cancelled.test.ts).
  /** One look and its signals; any failed signal fails the attempt, and the retry sends them all again. */
  async function signalPullRequestTargets(req: PullRequestTargetsRequest): Promise<TargetsSignalled> {
    const c = requireClient(client);
    const { workItems, failures } = await signalTargets(c, signallerFor(c), req);
    if (failures.length > 0) {
      const first = failures[0]?.error;
      throw new Error(
        `${failures.length} of ${workItems.length} signals for ${req.pullRequest.repository}#${req.pullRequest.number} failed: ${
          first instanceof Error ? first.message : String(first)
        }`,
      );
    }
    const signalled = workItems.filter((w) => w.signalled).length;
    log.info(
      {
        pullRequest: req.pullRequest,
        kind: req.kind,
        deliveryId: req.deliveryId,
        found: workItems.length,
        signalled,
      },
      'pull request targets signalled',
    );
    return { found: workItems.length, signalled };
  }

  return {
    signalPullRequestTargets,

    /**
     * Every look of a pull request workflow, at the same times as its looks one activity each did
     * (the first at `since`, the later ones `lookDelaysSeconds` after it), for one activity's cost
     * instead of one activity and one timer per look. A failed look fails the attempt; the retry
     * looks again at once (signals are idempotent) and keeps the looks still ahead on the same clock.
     */
    async lookForPullRequestTargets(req: PullRequestLooksRequest): Promise<PullRequestClosedResult> {
      const { since, lookDelaysSeconds, ...request } = req;
      const start = Date.parse(since);
      const looks: PullRequestClosedResult['looks'] = [];
      for (const at of [0, ...[...lookDelaysSeconds].sort((a, b) => a - b)]) {
        const wait = start + at * 1000 - Date.now();
        if (wait > 0) await waitUnlessCancelled(wait);
        looks.push({ at: new Date().toISOString(), ...(await signalPullRequestTargets(request)) });
      }
      return { looks };
    },

    /** Whether a merge of this pull request was received: its workflow exists, running or closed. */
    async isPullRequestMerged(pr: PullRequestRef): Promise<boolean> {
      const c = requireClient(client);
      try {
        await c.workflow.getHandle(mergedPullRequestWorkflowId(pr)).describe();
        return true;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}

export type PullRequestControlActivities = ReturnType<typeof createPullRequestControlActivities>;
