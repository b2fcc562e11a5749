// The snapshot workflow's side of the per-host budget: after a registration accepted a new image,
// admit it to its host's budget, which evicts the least recently used snapshots if a limit is
// crossed. Workflow code (deterministic); the budget is reached through a control activity.
import { log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { BudgetControlActivities } from '../activities/budget-activities.js';
import type { SnapshotState } from '../shared/types.js';

const budget = proxyActivities<BudgetControlActivities>({
  // The registration waits for the decision, so the caller knows the budget holds when it returns.
  scheduleToStartTimeout: '30 seconds',
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 2 },
});

/**
 * Never fails the registration: the image is accepted (and owned) either way. If the budget cannot
 * decide now, the reconciler's budget check catches up within one interval.
 */
export async function admitToBudget(snapshot: SnapshotState | null): Promise<void> {
  if (!snapshot) return;
  try {
    const result = await budget.admitToBudget({
      host: snapshot.host,
      workflowId: workflowInfo().workflowId,
      projectId: snapshot.projectId,
      imageId: snapshot.imageId,
      sizeBytes: snapshot.sizeBytes,
      createdAt: snapshot.createdAt,
      lastUsedAt: snapshot.lastUsedAt,
    });
    if (result.evicted.length > 0) {
      log.info('budget evicted snapshots to admit this one', {
        evicted: result.evicted.map((e) => e.workflowId),
      });
    }
  } catch (err) {
    log.warn('budget admission failed; the next reconcile checks the budget', {
      error: err instanceof Error ? err.message : String(err),
    });
  }
}
