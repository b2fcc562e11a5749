// Control activities of the per-pull-request workflow and of the snapshot workflow's merge check.
// They talk to Temporal only (visibility, signals, describe) and run on the workflow queue.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TargetSignaller } from '../service/signal-pull-request-targets.js';
import { signalPullRequestTargets as signalTargets } from '../service/signal-pull-request-targets.js';
import { mergedPullRequestWorkflowId, snapshotWorkflowId } from '../contract/names.js';
import type { PullRequestRef } from '../contract/snapshot-types.js';
import { invalidateSignal, mergedSignal } from '../contract/messages.js';
import type { PullRequestTargetsRequest } from '../contract/pull-request-types.js';
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

export function createPullRequestControlActivities({ client, log }: ControlDeps) {
  return {
    /** One look and its signals; any failed signal fails the attempt, and the retry sends them all again. */
    async signalPullRequestTargets(req: PullRequestTargetsRequest): Promise<TargetsSignalled> {
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
