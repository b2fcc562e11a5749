// The snapshot workflow's side of the per-host budget: after a registration accepted a new image,
// admit it to its host's budget, which evicts the least recently used snapshots if a limit is
// crossed; when a current image ends, release it. Workflow code (deterministic); admissions near
// the host's limits go through a control activity the registration waits for, admissions far from
// them and releases are signals.
import { getExternalWorkflowHandle, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { BudgetControlActivities } from '../../activities/budget-control-activities.js';
import { budgetEntry } from '../../contract/budget-types.js';
import type { SnapshotState } from '../../contract/snapshot-types.js';
import type { AdmitRequest } from '../../contract/budget-types.js';
import { budgetAdmittedSignal, budgetReleaseSignal } from '../../contract/messages.js';
import { budgetWorkflowId } from '../../contract/names.js';
import { ACTIVITY_PROFILES } from '../shared/activity-profiles.js';
import { BUDGET_RELEASE_PATCH, usePatch } from '../shared/patches.js';

const budget = proxyActivities<BudgetControlActivities>(ACTIVITY_PROFILES.budgetAdmission.options);

/**
 * Never fails the registration: the image is accepted (and owned) either way. If the budget cannot
 * decide now, the reconciler's budget check catches up within one interval. `replaced` is the
 * workflow's previous current image, if this registration replaced one.
 */
export async function admitToBudget(
  snapshot: SnapshotState | null,
  replaced?: SnapshotState | null,
): Promise<void> {
  if (!snapshot) return;
  // An image replaced by one on another host leaves that host's budget.
  if (replaced && replaced.host !== snapshot.host) releaseFromBudget(replaced);
  await decideAdmission(snapshot.host, admitRequest(snapshot, replaced));
}

/**
 * The admission of a registration far from its host's limits: a signal the budget counts after
 * the registration answered. A budget that is not running (a fresh host) is started by the
 * awaited admission instead, in the background.
 */
export function signalAdmission(snapshot: SnapshotState, replaced?: SnapshotState | null): void {
  if (replaced && replaced.host !== snapshot.host) releaseFromBudget(replaced);
  const request = admitRequest(snapshot, replaced);
  getExternalWorkflowHandle(budgetWorkflowId(snapshot.host))
    .signal(budgetAdmittedSignal, request)
    .catch(() => decideAdmission(snapshot.host, request));
}

function admitRequest(snapshot: SnapshotState, replaced?: SnapshotState | null): AdmitRequest {
  return {
    ...budgetEntry(workflowInfo().workflowId, snapshot),
    replaces:
      replaced && replaced.host === snapshot.host
        ? { imageId: replaced.imageId, sizeBytes: replaced.sizeBytes }
        : null,
  };
}

async function decideAdmission(host: string, request: AdmitRequest): Promise<void> {
  try {
    const result = await budget.admitToBudget({ host, ...request });
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

/**
 * Tells the host's budget that this image no longer counts (it ended for a reason other than an
 * eviction, which the budget already counted, or a replacement, which the admission counts). The
 * budget keeps totals instead of a list of every snapshot, so it relies on this; a release that
 * does not arrive (no budget running) is corrected by the next full count.
 */
export function releaseFromBudget(snapshot: SnapshotState): void {
  // Histories recorded before releases existed replay without this signal.
  if (!usePatch(BUDGET_RELEASE_PATCH)) return;
  getExternalWorkflowHandle(budgetWorkflowId(snapshot.host))
    .signal(budgetReleaseSignal, {
      workflowId: workflowInfo().workflowId,
      projectId: snapshot.projectId,
      imageId: snapshot.imageId,
      sizeBytes: snapshot.sizeBytes,
    })
    .catch(() => undefined);
}
