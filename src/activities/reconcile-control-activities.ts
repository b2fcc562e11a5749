// Activities of the reconciler that talk to Temporal (visibility, queries, signals): registered on
// the workflow queue, where any worker with a client runs them.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { HOST_ID_PATTERN } from '../contract/limits.js';
import { vanishedSignal } from '../contract/messages.js';
import { hostOfReconcileSchedule } from '../contract/names.js';
import type { SnapshotOwnerView, WorkflowIdPage } from '../contract/reconcile-types.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../contract/search-attribute-keys.js';
import { mapLimit } from '../service/map-limit.js';
import { repairWedgedWorkflow } from '../service/repair-wedged-workflow.js';
import { describeSnapshotOwner, openSnapshotsQuery } from '../service/snapshot-owners.js';
import { listWorkflowIdsPage } from '../service/visibility.js';
import type { ControlDeps } from './control-client.js';
import { requireClient } from './control-client.js';
import { heartbeating } from './heartbeat.js';
import { throwIfCancelled } from './until-cancelled.js';

const QUERY_CONCURRENCY = 16;

export function createReconcileControlActivities({ client, log }: ControlDeps) {
  async function repairOwner(c: Client, view: SnapshotOwnerView): Promise<SnapshotOwnerView> {
    // The owner may not have answered because its query was aborted by a cancellation: a repair
    // would start calls after it, which nothing aborts.
    throwIfCancelled();
    try {
      const result = await repairWedgedWorkflow(c, view.workflowId);
      if (result.outcome !== 'reset') return view;
      const repaired = {
        workflowId: view.workflowId,
        newRunId: result.newRunId,
        eventId: result.eventId,
        reason: result.reason,
      };
      log.warn(
        { ...repaired, runId: result.runId, attempts: result.attempts },
        'reset a wedged snapshot workflow',
      );
      return { ...view, repaired, error: `${view.error ?? 'query failed'}; ${result.reason}` };
    } catch (err) {
      return {
        ...view,
        error: `${view.error ?? 'query failed'}; repair failed: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }

  return heartbeating({
    /** Hosts with a reconcile schedule (one per Docker worker) or an open snapshot workflow. */
    async listKnownHosts(): Promise<string[]> {
      const c = requireClient(client);
      const hosts = new Set<string>();
      // Each item may have cost a page call; one started after a cancellation would not be aborted.
      for await (const schedule of c.schedule.list()) {
        throwIfCancelled();
        const host = hostOfReconcileSchedule(schedule.scheduleId);
        if (host && HOST_ID_PATTERN.test(host)) hosts.add(host);
      }
      for await (const wf of c.workflow.list({ query: openSnapshotsQuery() })) {
        throwIfCancelled();
        const host = wf.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.host);
        if (typeof host === 'string' && HOST_ID_PATTERN.test(host)) hosts.add(host);
      }
      return [...hosts].sort();
    },

    /**
     * One page of the open snapshot workflows whose shown image is on this host, from visibility
     * (which lags). `pageToken` is the previous page's `next`.
     */
    async listOpenSnapshotWorkflowsPage(input: {
      host: string;
      pageToken: string | null;
      pageSize: number;
    }): Promise<WorkflowIdPage> {
      return listWorkflowIdsPage(
        requireClient(client),
        openSnapshotsQuery(input.host),
        input.pageToken,
        input.pageSize,
      );
    },

    /** Status and held images of each workflow: the owner check, by query, not by visibility. */
    async describeSnapshotWorkflows(input: { workflowIds: string[] }): Promise<SnapshotOwnerView[]> {
      const c = requireClient(client);
      const unique = [...new Set(input.workflowIds)];
      const views = await mapLimit(unique, QUERY_CONCURRENCY, (id) => {
        // An aborted query is an 'error' view, not a throw: the next one would start unaborted.
        throwIfCancelled();
        return describeSnapshotOwner(c, id);
      });
      // An owner that cannot answer may be wedged; its image stays (unverified) this round, and a
      // reset lets it answer, and end, by the next.
      return mapLimit(views, QUERY_CONCURRENCY, async (view) =>
        view.status === 'error' ? repairOwner(c, view) : view,
      );
    },

    /** Tells a snapshot workflow its image is gone; 'gone' when the workflow is closed or absent. */
    async signalVanished(input: {
      workflowId: string;
      imageId: string;
      message: string;
    }): Promise<'signalled' | 'gone'> {
      const c = requireClient(client);
      try {
        await c.workflow
          .getHandle(input.workflowId)
          .signal(vanishedSignal, { imageId: input.imageId, message: input.message });
        log.warn(input, 'snapshot image vanished from its engine; its workflow was told');
        return 'signalled';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 'gone';
        throw err;
      }
    },
  });
}

export type ReconcileControlActivities = ReturnType<typeof createReconcileControlActivities>;
