// The names users script against (workflow types and ids, queues, labels, image tags; search
// attributes are in search-attributes.ts). Kept in one
// module so the workflows, the workers, the API and the CLI can never disagree. Pure functions only:
// this module is bundled into workflow code.
import type { PullRequestRef } from './snapshot-types.js';

/**
 * Workflow type names: what clients start, schedules run and visibility queries filter on. They
 * are the exported function names in src/workflows/, so renaming one breaks running workflows.
 */
export const WORKFLOW_TYPES = {
  snapshot: 'snapshotWorkflow',
  budget: 'budgetWorkflow',
  reconcile: 'reconcileWorkflow',
  reconcileHost: 'reconcileHostWorkflow',
  pullRequestClosed: 'pullRequestClosedWorkflow',
  lease: 'leaseWorkflow',
} as const;

export const WORKFLOW_TASK_QUEUE = 'snapkeeper';
export const DOCKER_TASK_QUEUE_PREFIX = 'snapkeeper-docker-';

export function dockerTaskQueue(hostId: string): string {
  return `${DOCKER_TASK_QUEUE_PREFIX}${hostId}`;
}

export const SNAPSHOT_WORKFLOW_ID_PREFIX = 'snapshot:';

/** The snapshot workflow's memo key under which it keeps its current image (SnapshotMemo). */
export const SNAPSHOT_MEMO_KEY = 'snapshot';

export function snapshotWorkflowId(projectId: string, workItemId: string): string {
  return `${SNAPSHOT_WORKFLOW_ID_PREFIX}${encodeURIComponent(projectId)}:${encodeURIComponent(workItemId)}`;
}

export function parseSnapshotWorkflowId(
  workflowId: string,
): { projectId: string; workItemId: string } | undefined {
  if (!workflowId.startsWith(SNAPSHOT_WORKFLOW_ID_PREFIX)) return undefined;
  const parts = workflowId.slice(SNAPSHOT_WORKFLOW_ID_PREFIX.length).split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  try {
    return { projectId: decodeURIComponent(parts[0]), workItemId: decodeURIComponent(parts[1]) };
  } catch {
    return undefined;
  }
}

export const LABEL_MANAGED = 'io.snapkeeper.managed';
export const LABEL_PROJECT = 'io.snapkeeper.project';
export const LABEL_WORK_ITEM = 'io.snapkeeper.work-item';

/** Set by commitSnapshot: a random id of that one commit, repeated in the image's Comment. */
export const LABEL_COMMIT = 'io.snapkeeper.commit';
/** Set by commitSnapshot: the repo:tag the commit itself was given (a reference snapkeeper owns). */
export const LABEL_REFERENCE = 'io.snapkeeper.reference';

export function managedLabels(projectId: string, workItemId: string): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_PROJECT]: projectId, [LABEL_WORK_ITEM]: workItemId };
}

/** Holds an image whose reuse reference was removed, until removeSnapshotImage deletes it. */
export const RETIRING_REPOSITORY = 'snapkeeper/retiring';

/**
 * snapkeeper's holding reference: an image registered without any reference gets it, so a current
 * snapshot is never untagged (the parent walk only takes untagged images); an image being retired
 * gets it before its reuse reference goes; and a removal always ends with the untag of this tag,
 * never with a delete by id that could take a tag someone just added along.
 */
export const HELD_REPOSITORY = 'snapkeeper/held';

/**
 * Left on an image whose snapshot ended while a reference snapkeeper does not own still named it:
 * it tells the reconciler that the other references are someone else's, and once they are all
 * gone this one is all that is left, so the image goes.
 */
export const KEPT_REPOSITORY = 'snapkeeper/kept';

/** The tag snapkeeper's own references use: the image id without its algorithm prefix. */
export function imageIdTag(imageId: string): string {
  return imageId.replace(/^sha256:/, '');
}

/**
 * The reconciler tags an orphan candidate with this repository before it asks the owner a last
 * time; a registration refuses an image so tagged, which closes the race between that last check
 * and the removal.
 */
export const REAPING_REPOSITORY = 'snapkeeper/reaping';

export function reapingTag(imageId: string): string {
  return `${REAPING_REPOSITORY}:${imageIdTag(imageId)}`;
}

export function heldTag(imageId: string): string {
  return `${HELD_REPOSITORY}:${imageIdTag(imageId)}`;
}

export function keptTag(imageId: string): string {
  return `${KEPT_REPOSITORY}:${imageIdTag(imageId)}`;
}

/** Repositories whose tags only snapkeeper writes. */
export const SNAPKEEPER_REPOSITORIES: readonly string[] = [
  HELD_REPOSITORY,
  RETIRING_REPOSITORY,
  REAPING_REPOSITORY,
  KEPT_REPOSITORY,
];

// The reconciler and the budget, which operators script against.

export const BUDGET_WORKFLOW_ID_PREFIX = 'budget:';

/** The budget workflow's memo key under which it publishes its totals (BudgetMemo). */
export const BUDGET_MEMO_KEY = 'budget';
export const RECONCILE_SCHEDULE_ID_PREFIX = 'snapkeeper-reconcile-';

/** The budget entity workflow of one Docker host. */
export function budgetWorkflowId(hostId: string): string {
  return `${BUDGET_WORKFLOW_ID_PREFIX}${hostId}`;
}

/** The schedule that reconciles one Docker host, created by that host's Docker worker. */
export function reconcileScheduleId(hostId: string): string {
  return `${RECONCILE_SCHEDULE_ID_PREFIX}${hostId}`;
}

export function hostOfReconcileSchedule(scheduleId: string): string | undefined {
  return scheduleId.startsWith(RECONCILE_SCHEDULE_ID_PREFIX)
    ? scheduleId.slice(RECONCILE_SCHEDULE_ID_PREFIX.length) || undefined
    : undefined;
}

// The per-pull-request workflows, which registration and linking consult.

export const PULL_REQUEST_WORKFLOW_ID_PREFIX = 'pull-request:';

/**
 * A pull request as ids and the merge memory spell it. GitHub treats owner/name
 * case-insensitively, and a link may spell it differently from the webhook: the record of a merge
 * must be found whatever the spelling.
 */
export function pullRequestKey(pr: PullRequestRef): string {
  return `${encodeURIComponent(pr.repository.toLowerCase())}:${pr.number}`;
}

/**
 * The workflow that ends everything a merged pull request keeps alive. One per pull request, so a
 * redelivery (or a second hook) finds it instead of starting another; it stays findable by id after
 * it completes (within the namespace's retention), which is the durable record that the pull
 * request merged.
 */
export function mergedPullRequestWorkflowId(pr: PullRequestRef): string {
  return `${PULL_REQUEST_WORKFLOW_ID_PREFIX}${pullRequestKey(pr)}:merged`;
}

/**
 * A close without merge can be followed by a reopen and another close: one workflow per close,
 * named by its signed event key (pullRequestEventKey), so a replayed body starts no second one.
 * (Requests from before the key was named by their delivery id.)
 */
export function closedPullRequestWorkflowId(pr: PullRequestRef, closeKey: string): string {
  return `${PULL_REQUEST_WORKFLOW_ID_PREFIX}${pullRequestKey(pr)}:closed:${encodeURIComponent(closeKey)}`;
}

export function samePullRequest(a: PullRequestRef | null | undefined, b: PullRequestRef): boolean {
  return !!a && a.number === b.number && a.repository.toLowerCase() === b.repository.toLowerCase();
}

/**
 * The identity of one close of a pull request from what its signed body says: when it closed (or
 * merged) and at which head commit. X-GitHub-Delivery is not covered by the signature: a captured
 * body replayed under fresh delivery ids must still be the same close. A reopen and another close
 * has another time, so it is another close.
 */
export function pullRequestEventKey(at: string | undefined, headSha: string | null): string {
  return `${at ?? 'unknown-time'}/${headSha ? headSha.slice(0, 12) : 'unknown-head'}`;
}

/** The de-duplication key a merged signal carries: the pull request, its kind of close, its event key. */
export function pullRequestSignalKey(
  pr: PullRequestRef,
  kind: 'merged' | 'closed',
  eventKey: string,
): string {
  return `${pullRequestKey(pr)}:${kind}:${eventKey}`;
}

// Leases: a commit in flight that the reconciler must not reap before its registration.

export const LEASE_WORKFLOW_ID_PREFIX = 'lease:';

/** The lease workflow's memo key under which it keeps what it protects (LeaseMemo). */
export const LEASE_MEMO_KEY = 'lease';

/**
 * Set by commitSnapshot when it holds a lease: the reconciler never reaps the image while the
 * workflow `lease:<leaseId>` runs, whatever the image's age.
 */
export const LABEL_LEASE = 'io.snapkeeper.lease';

/** Lease ids are made by the API (a UUID); the label and the path are checked against this. */
export const LEASE_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The workflow of one lease: running while the lease lives, closed once released or expired. */
export function leaseWorkflowId(leaseId: string): string {
  return `${LEASE_WORKFLOW_ID_PREFIX}${leaseId}`;
}
