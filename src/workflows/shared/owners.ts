// Shared by the reconciler and the budget (workflow code): asking snapshot workflows what they hold.
import type { ReconcileControlActivities } from '../../activities/reconcile-control-activities.js';
import type { SnapshotOwnerView } from '../../contract/reconcile-types.js';

/** Owners are asked this many per activity, so no activity result grows past Temporal's limits. */
const DESCRIBE_BATCH = 100;

/** describeSnapshotWorkflows, in batches. */
export async function describeOwners(
  describe: ReconcileControlActivities['describeSnapshotWorkflows'],
  workflowIds: string[],
): Promise<SnapshotOwnerView[]> {
  const unique = [...new Set(workflowIds)];
  const views: SnapshotOwnerView[] = [];
  for (let i = 0; i < unique.length; i += DESCRIBE_BATCH) {
    views.push(...(await describe({ workflowIds: unique.slice(i, i + DESCRIBE_BATCH) })));
  }
  return views;
}
