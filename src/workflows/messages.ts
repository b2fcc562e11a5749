// Every signal, query and update of snapkeeper's workflows, defined once and imported by the
// workflows, the API, the worker and the CLI scripts alike, so their names and types cannot drift.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  EvictSignal,
  InvalidateSignal,
  MergedSignal,
  PullRequestRef,
  RegisterRequest,
  RegisterResult,
  SnapshotState,
  SnapshotWorkflowView,
  TouchRequest,
} from '../shared/types.js';

export const registerUpdate = defineUpdate<RegisterResult, [RegisterRequest]>('register');
export const touchUpdate = defineUpdate<SnapshotState, [TouchRequest]>('touch');
export const linkPullRequestUpdate = defineUpdate<SnapshotState, [PullRequestRef]>('linkPullRequest');
export const mergedSignal = defineSignal<[MergedSignal]>('merged');
export const invalidateSignal = defineSignal<[InvalidateSignal]>('invalidate');
export const evictSignal = defineSignal<[EvictSignal]>('evict');
export const stateQuery = defineQuery<SnapshotWorkflowView>('state');
