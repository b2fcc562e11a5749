// Data shapes of the per-pull-request workflow and its activities. Types only: bundled into
// workflow code.
import type { PullRequestMatch, PullRequestRef } from './snapshot-types.js';

export interface WorkItemRef {
  projectId: string;
  workItemId: string;
}

export type PullRequestEventKind = 'merged' | 'closed';

/** One look for the work items a closed pull request ends, and the signals to them. */
export interface PullRequestTargetsRequest {
  kind: PullRequestEventKind;
  pullRequest: PullRequestRef;
  /** X-GitHub-Delivery: not signed, so only for logs and reasons, never to de-duplicate. */
  deliveryId: string;
  /**
   * What the close is, from the signed body only (its time and head commit; see
   * pullRequestEventKey): the same body under any delivery id has the same key, so it names the
   * close-without-merge workflow and de-duplicates the merged signal. Absent in requests from
   * before it; the delivery id stands in then.
   */
  eventKey?: string;
  /** GitHub's merged_at (or closed_at), rounded up to the end of its second. */
  at?: string;
  /** Work items the API's branch rules derived from the head branch (same-repository pull requests only). */
  branchTargets: WorkItemRef[];
  /** Visibility page size (tests make it small to prove every page is read). */
  pageSize?: number;
}

export interface SignalledWorkItem extends WorkItemRef {
  match: PullRequestMatch;
  /** false when the work item had no open workflow. */
  signalled: boolean;
}

export interface PullRequestWorkflowOptions {
  /**
   * Looks after the first one, in seconds after it: visibility trails the workflows, so a link
   * made just before the merge may only show in a later look.
   */
  lookDelaysSeconds?: number[];
  pageSize?: number;
}

export interface PullRequestClosedInput extends Omit<PullRequestTargetsRequest, 'pageSize'> {
  options?: PullRequestWorkflowOptions;
  /** Which code started it (PULL_REQUEST_RUN_GENERATION, run-generation.ts); absent before. */
  generation?: number;
}

export interface PullRequestLook {
  at: string;
  found: number;
  signalled: number;
}

/**
 * Every look of a pull request workflow in one activity (pull-request-looks-in-one-activity): the
 * first at `since`, then one at each delay after it. A retried attempt looks again at once, then
 * keeps the looks still ahead on the same clock.
 */
export interface PullRequestLooksRequest extends PullRequestTargetsRequest {
  /** The first look's time (the workflow's), ISO; the delays count from it. */
  since: string;
  lookDelaysSeconds: number[];
}

export interface PullRequestClosedResult {
  looks: PullRequestLook[];
}

/** The signature of `pullRequestClosedWorkflow` (WORKFLOW_TYPES.pullRequestClosed), for typed starts by name. */
export type PullRequestClosedWorkflowFunction = (
  input: PullRequestClosedInput,
) => Promise<PullRequestClosedResult>;
