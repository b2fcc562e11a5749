// Every signal, query and update of snapkeeper's workflows, defined once and imported by the
// workflows, the API, the worker and the CLI scripts alike, so their names and types cannot drift.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  EvictSignal,
  InvalidateRequest,
  InvalidateSignal,
  MergedSignal,
  PullRequestRef,
  RegisterRequest,
  RegisterResult,
  SnapshotState,
  SnapshotWorkflowView,
  TouchRequest,
  UsedSignal,
} from './snapshot-types.js';
import type {
  AdmitRequest,
  AdmitResult,
  BudgetCheckRequest,
  BudgetCheckResult,
  BudgetView,
  ReleaseSignal,
} from './budget-types.js';
import type { VanishedSignal } from './reconcile-types.js';
import type { LeaseReleaseSignal } from './lease-types.js';

export const registerUpdate = defineUpdate<RegisterResult, [RegisterRequest]>('register');
export const touchUpdate = defineUpdate<SnapshotState, [TouchRequest]>('touch');
/** A lookup's use, when its image is far from its expiry: the API does not wait for a workflow task. */
export const usedSignal = defineSignal<[UsedSignal]>('used');
export const linkPullRequestUpdate = defineUpdate<SnapshotState, [PullRequestRef]>('linkPullRequest');
export const mergedSignal = defineSignal<[MergedSignal]>('merged');
export const invalidateSignal = defineSignal<[InvalidateSignal]>('invalidate');
/** Ends the current image now and answers with it; refused when the named image is not current. */
export const invalidateUpdate = defineUpdate<SnapshotState, [InvalidateRequest]>('invalidateImage');
export const evictSignal = defineSignal<[EvictSignal]>('evict');
export const stateQuery = defineQuery<SnapshotWorkflowView>('state');
/** From the reconciler: the current image is gone from its engine (someone ran `docker rmi`). */
export const vanishedSignal = defineSignal<[VanishedSignal]>('vanished');

// The per-host budget workflow (`budget:<hostId>`).
export const budgetAdmitUpdate = defineUpdate<AdmitResult, [AdmitRequest]>('admit');
export const budgetCheckUpdate = defineUpdate<BudgetCheckResult, [BudgetCheckRequest]>('check');
export const budgetStateQuery = defineQuery<BudgetView>('budget');
/**
 * From a snapshot workflow, after a registration far from its host's limits: count this image
 * (the budget decides only if its totals crossed a limit meanwhile).
 */
export const budgetAdmittedSignal = defineSignal<[AdmitRequest]>('admitted');
/** From a snapshot workflow whose current image ended: it no longer counts toward its host's budget. */
export const budgetReleaseSignal = defineSignal<[ReleaseSignal]>('release');

// The lease workflows (`lease:<leaseId>`).
/** Ends a lease now (DELETE /v1/leases/{id}, or an accepted registration that names it). */
export const leaseReleaseSignal = defineSignal<[LeaseReleaseSignal]>('releaseLease');
