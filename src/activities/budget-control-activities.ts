// Activities of the per-host budget that reach the budget workflow through the Temporal client,
// for the snapshot workflow (admission) and the reconciler (check, scan): on the workflow queue.
import { WorkflowNotFoundError } from '@temporalio/client';
import type {
  AdmitRequest,
  AdmitResult,
  BudgetCheckRequest,
  BudgetCheckResult,
  BudgetEntry,
  HostScan,
} from '../contract/budget-types.js';
import { budgetEntry, lruOrder } from '../contract/budget-types.js';
import { emptyRecord, ownValue } from '../contract/keyed-records.js';
import { budgetAdmitUpdate, budgetCheckUpdate } from '../contract/messages.js';
import { budgetWorkflowId } from '../contract/names.js';
import type { SnapshotOwnerView } from '../contract/reconcile-types.js';
import type { BudgetWorkflowOptions } from '../service/budget-workflow-start.js';
import { budgetWorkflowStart } from '../service/budget-workflow-start.js';
import { mapLimit } from '../service/map-limit.js';
import { repairWedgedWorkflow } from '../service/repair-wedged-workflow.js';
import { describeSnapshotOwner, openSnapshotsQuery } from '../service/snapshot-owners.js';
import { listAllWorkflowIds } from '../service/visibility.js';
import type { ControlDeps } from './control-client.js';
import { requireClient } from './control-client.js';
import { heartbeating } from './heartbeat.js';
import { throwIfCancelled } from './until-cancelled.js';

export interface BudgetControlDeps extends ControlDeps {
  /** Options for budget workflows this process starts (tests shorten history limits). */
  budgetWorkflowOptions?: BudgetWorkflowOptions;
}

const SCAN_CONCURRENCY = 16;

/**
 * The totals of a host's snapshots and its `coldLimit` least recently used ones, from the answers of
 * its open snapshot workflows: what a budget scan returns, bounded whatever the host holds.
 */
export function summarizeHostSnapshots(
  host: string,
  views: SnapshotOwnerView[],
  coldLimit: number,
): HostScan {
  const entries: BudgetEntry[] = [];
  const seen = new Set<string>();
  let unanswered = 0;
  for (const v of views) {
    if (seen.has(v.workflowId)) continue;
    seen.add(v.workflowId);
    if (v.status === 'error') unanswered++;
    const c = v.current;
    if (v.status !== 'running' || !c || c.host !== host) continue;
    entries.push(budgetEntry(v.workflowId, c));
  }
  entries.sort(lruOrder);
  // Keyed by project id (input): no prototype, so `constructor` counts from 0 like any project.
  const projectCounts = emptyRecord<number>();
  let bytes = 0;
  for (const e of entries) {
    bytes += e.sizeBytes;
    projectCounts[e.projectId] = (ownValue(projectCounts, e.projectId) ?? 0) + 1;
  }
  const limit = Math.max(1, coldLimit);
  const first = entries[limit];
  return {
    totals: { count: entries.length, bytes, projectCounts },
    coldest: entries.slice(0, limit),
    threshold: first
      ? { workflowId: first.workflowId, createdAt: first.createdAt, lastUsedAt: first.lastUsedAt }
      : null,
    unanswered,
  };
}

export function createBudgetControlActivities({ client, log, budgetWorkflowOptions }: BudgetControlDeps) {
  return heartbeating({
    /**
     * Counts a host's open snapshots: every open snapshot workflow visibility shows on the host,
     * plus `alsoAsk` (admitted a moment ago, maybe not visible yet), each asked what it holds.
     */
    async scanHostSnapshots(input: {
      host: string;
      coldLimit: number;
      alsoAsk: string[];
    }): Promise<HostScan> {
      const c = requireClient(client);
      const ids = new Set(await listAllWorkflowIds(c, openSnapshotsQuery(input.host), 1000));
      for (const id of input.alsoAsk) ids.add(id);
      const views = await mapLimit([...ids], SCAN_CONCURRENCY, (id) => {
        // An aborted query is an 'error' view, not a throw: the next one would start unaborted.
        throwIfCancelled();
        return describeSnapshotOwner(c, id);
      });
      return summarizeHostSnapshots(input.host, views, input.coldLimit);
    },

    /** Admits a newly registered image to its host's budget, starting the budget if needed. */
    async admitToBudget(input: AdmitRequest & { host: string }): Promise<AdmitResult> {
      const { host, ...entry } = input;
      const c = requireClient(client);
      return c.workflow.executeUpdateWithStart(budgetAdmitUpdate, {
        args: [entry],
        startWorkflowOperation: budgetWorkflowStart(host, budgetWorkflowOptions),
      });
    },

    /** Re-checks a host's budget now (the reconciler does, once a run): disk, stale entries. */
    async checkBudget(input: BudgetCheckRequest & { host: string }): Promise<BudgetCheckResult> {
      const { host, ...request } = input;
      const c = requireClient(client);
      // A wedged budget workflow would time this update out on every reconcile: reset it first.
      try {
        const repair = await repairWedgedWorkflow(c, budgetWorkflowId(host));
        if (repair.outcome === 'reset') log.warn({ host, ...repair }, 'reset a wedged budget workflow');
      } catch (err) {
        // Aborted by a cancellation: the update below would start after it, and nothing aborts it.
        throwIfCancelled();
        if (!(err instanceof WorkflowNotFoundError)) {
          log.warn(
            { host, error: err instanceof Error ? err.message : String(err) },
            'budget workflow repair check failed',
          );
        }
      }
      return c.workflow.executeUpdateWithStart(budgetCheckUpdate, {
        args: [request],
        startWorkflowOperation: budgetWorkflowStart(host, budgetWorkflowOptions),
      });
    },
  });
}

export type BudgetControlActivities = ReturnType<typeof createBudgetControlActivities>;
