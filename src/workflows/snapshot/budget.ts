// The snapshot workflow's side of the per-host budget: after a registration accepted a new image,
// admit it to its host's budget, which evicts the least recently used snapshots if a limit is
// crossed; when a current image ends, release it. Workflow code (deterministic); admissions near
// the host's limits go through a control activity the registration waits for, admissions far from
// them and releases are signals. An image no count or byte limit applies to, on a disk far from its
// watermark, is not told to the budget at all (see signalAdmission).
import { getExternalWorkflowHandle, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { BudgetControlActivities } from '../../activities/budget-control-activities.js';
import { budgetEntry } from '../../contract/budget-types.js';
import type { ImageFacts, SnapshotState } from '../../contract/snapshot-types.js';
import type { AdmitRequest } from '../../contract/budget-types.js';
import { budgetAdmittedSignal, budgetReleaseSignal } from '../../contract/messages.js';
import { budgetWorkflowId } from '../../contract/names.js';
import { ACTIVITY_PROFILES } from '../shared/activity-profiles.js';
import { BUDGET_RELEASE_PATCH, usePatch } from '../shared/patches.js';

const budget = proxyActivities<BudgetControlActivities>(ACTIVITY_PROFILES.budgetAdmission.options);

/**
 * Images of this run the budget never counted (admitted `uncounted`): their end is not told
 * either. Module state is this run's own (the SDK gives each workflow its own module instances)
 * and is rebuilt on replay from the recorded facts; a run continued as new starts it empty, so an
 * image carried over tells its end (a release of an image the budget does not know counts once
 * at most, and the next full count sets the totals right).
 */
const uncounted = new Set<string>();

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
export function signalAdmission(
  snapshot: SnapshotState,
  replaced?: SnapshotState | null,
  uncountedFacts?: { facts: ImageFacts; lean: boolean },
): void {
  // No count or byte limit applies to the image and its disk is far from the watermark (the host
  // says so when it inspects it): nothing the budget decides depends on counting it, so it costs
  // no signal now and none at its end (issue 19: 2 signals and the budget's 2 memo upserts per
  // lifecycle). The budget's totals then trail by what registered and ended since its last full
  // count (the reconciler's check, every interval); under disk pressure it counts in full before
  // saying nothing is left to evict. Runs from before the lean lifecycle always tell it.
  if (uncountedFacts?.lean && uncountedFacts.facts.budgetUncounted) {
    uncounted.add(snapshot.imageId);
    if (replaced) releaseFromBudget(replaced);
    return;
  }
  if (replaced && replaced.host !== snapshot.host) releaseFromBudget(replaced);
  const request = admitRequest(snapshot, replaced);
  getExternalWorkflowHandle(budgetWorkflowId(snapshot.host))
    .signal(budgetAdmittedSignal, request)
    .catch(() => decideAdmission(snapshot.host, request));
}

function admitRequest(snapshot: SnapshotState, replaced?: SnapshotState | null): AdmitRequest {
  return {
    ...budgetEntry(workflowInfo().workflowId, snapshot),
    // An image the budget never counted is not taken off its totals.
    replaces:
      replaced && replaced.host === snapshot.host && !uncounted.has(replaced.imageId)
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
  // Never counted: nothing to take off.
  if (uncounted.has(snapshot.imageId)) return;
  getExternalWorkflowHandle(budgetWorkflowId(snapshot.host))
    .signal(budgetReleaseSignal, {
      workflowId: workflowInfo().workflowId,
      projectId: snapshot.projectId,
      imageId: snapshot.imageId,
      sizeBytes: snapshot.sizeBytes,
    })
    .catch(() => undefined);
}
