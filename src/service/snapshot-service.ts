import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType, TOUCH_NOT_NEEDED } from '../contract/errors.js';
import {
  SNAPSHOT_MEMO_KEY,
  WORKFLOW_TASK_QUEUE,
  WORKFLOW_TYPES,
  closedPullRequestWorkflowId,
  mergedPullRequestWorkflowId,
  snapshotWorkflowId,
} from '../contract/names.js';
import { PULL_REQUEST_RUN_GENERATION, SNAPSHOT_RUN_GENERATION } from '../contract/run-generation.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../contract/search-attribute-keys.js';
import type {
  InvalidateRequest,
  InvalidateSignal,
  MergedSignal,
  PullRequestRef,
  RegisterRequest,
  RegisterResult,
  SnapshotMemo,
  SnapshotState,
  SnapshotWorkflowView,
} from '../contract/snapshot-types.js';
import {
  invalidateSignal,
  invalidateUpdate,
  linkPullRequestUpdate,
  mergedSignal,
  registerUpdate,
  stateQuery,
  touchUpdate,
  usedSignal,
} from '../contract/messages.js';
import type { SnapshotWorkflowOptions, snapshotWorkflow } from '../workflows/snapshot/workflow.js';
import type {
  PullRequestClosedInput,
  PullRequestClosedWorkflowFunction,
  PullRequestWorkflowOptions,
} from '../contract/pull-request-types.js';
import { SnapshotError, fromUpdateFailure } from './snapshot-error.js';
import { RecentUses } from './recent-uses.js';
import { signalOpen } from './signal-open.js';

export interface SnapshotServiceDeps {
  client: Client;
  defaultTtlSeconds: number;
  /** Passed to new workflows; tests shorten backoffs and history limits with it. */
  workflowOptions?: SnapshotWorkflowOptions;
  /** Passed to new per-pull-request workflows; tests shorten the looks and the page size. */
  pullRequestWorkflowOptions?: PullRequestWorkflowOptions;
  /**
   * A lookup records its use (last used, a sliding TTL's new expiry) in the workflow only when the
   * recorded one is older than this (or a tenth of the TTL, if shorter); otherwise it is answered
   * from the workflow's memo and adds nothing to its history. 0 records every lookup.
   */
  lookupRecordIntervalMs?: number;
}

export const DEFAULT_LOOKUP_RECORD_INTERVAL_MS = 60_000;

export interface RegisterInput extends RegisterRequest {
  projectId: string;
  workItemId: string;
}

type SnapshotHandle = WorkflowHandle<typeof snapshotWorkflow>;

// An update can reach a run that is completing (its last image just left); the next
// update-with-start then starts a fresh run, so a few tries settle it.
const REGISTER_ATTEMPTS = 3;

/**
 * Everything the API (and the tests, and operators' scripts) do to snapshot workflows, through
 * the Temporal client only: no Docker access, no state of its own, so any number can run.
 */
export function createSnapshotService({
  client,
  defaultTtlSeconds,
  workflowOptions,
  pullRequestWorkflowOptions,
  lookupRecordIntervalMs = DEFAULT_LOOKUP_RECORD_INTERVAL_MS,
}: SnapshotServiceDeps) {
  const recentUses = new RecentUses();
  const handle = (projectId: string, workItemId: string): SnapshotHandle =>
    client.workflow.getHandle<typeof snapshotWorkflow>(snapshotWorkflowId(projectId, workItemId));

  async function register(input: RegisterInput): Promise<RegisterResult> {
    const { projectId, workItemId, ...rest } = input;
    const request: RegisterRequest = { ...rest, ttlSeconds: rest.ttlSeconds ?? defaultTtlSeconds };
    for (let attempt = 1; ; attempt++) {
      const startWorkflowOperation = new WithStartWorkflowOperation<typeof snapshotWorkflow>(
        WORKFLOW_TYPES.snapshot,
        {
          workflowId: snapshotWorkflowId(projectId, workItemId),
          taskQueue: WORKFLOW_TASK_QUEUE,
          args: [
            {
              projectId,
              workItemId,
              // A run of this code knows it is new: it takes what that generation has without markers.
              generation: SNAPSHOT_RUN_GENERATION,
              ...(workflowOptions ? { options: workflowOptions } : {}),
            },
          ],
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: `Snapshot of work item ${workItemId} in project ${projectId}`,
          staticDetails:
            `Owns the Docker snapshot images of work item \`${workItemId}\` (project \`${projectId}\`). ` +
            'Each image is removed after its pull request merges, its TTL, an invalidation, an eviction, a replacement or a cancel.',
          typedSearchAttributes: [
            { key: SEARCH_ATTRIBUTE_KEYS.projectId, value: projectId },
            { key: SEARCH_ATTRIBUTE_KEYS.workItemId, value: workItemId },
          ],
        },
      );
      try {
        return await client.workflow.executeUpdateWithStart(registerUpdate, {
          args: [request],
          startWorkflowOperation,
        });
      } catch (err) {
        const refusal = fromUpdateFailure(err);
        if (refusal) throw refusal;
        if (attempt >= REGISTER_ATTEMPTS || !isCompletedBeforeUpdate(err)) throw err;
      }
    }
  }

  /**
   * The reuse lookup: the active image. It reads the workflow's memo through
   * DescribeWorkflowExecution (the server answers, no worker wakes, no event is written); only
   * while a workflow task is pending (a signal or update not yet applied) does it ask the workflow
   * itself with a query, which the server answers after that task. So an ending the workflow has
   * received before the read (a merge, an invalidation) is never offered.
   *
   * The use is recorded at most once per recording interval, so history grows with time, not
   * with reads. Far from the image's expiry it is recorded with a `used` signal: durable once the
   * server answers, without waiting for a workflow task. Near it (USE_BY_UPDATE_WITHIN_MS) the
   * workflow decides with a touch update, so a lookup racing the TTL's timer gets the timer's
   * answer rather than an image that is about to go.
   */
  async function lookup(projectId: string, workItemId: string): Promise<SnapshotState | null> {
    const h = handle(projectId, workItemId);
    let seen: SnapshotState | null;
    try {
      seen = await readCurrent(h);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
    if (!seen) return null;
    // Not offered: the next job starts from its base image, and its commit begins a fresh chain.
    if (seen.reuseBlockedBy) throw new SnapshotError(ErrorType.chainTooDeep, seen.reuseBlockedBy);
    const every = recordEveryMs(seen, lookupRecordIntervalMs);
    const now = Date.now();
    if (now - Date.parse(seen.lastUsedAt) < every) return seen;
    if (Date.parse(seen.expiresAt) - now >= USE_BY_UPDATE_WITHIN_MS) {
      const use =
        recentUses.within(h.workflowId, seen.imageId, every, now) ??
        recentUses.remember(h.workflowId, seen.imageId, now, () =>
          h.signal(usedSignal, { imageId: seen.imageId, recordEveryMs: every }),
        );
      try {
        await use.sent;
      } catch (err) {
        // The run closed after the read: its image is on its way off the disk.
        if (err instanceof WorkflowNotFoundError) return null;
        throw err;
      }
      return withUse(seen, use.at);
    }
    try {
      return await h.executeUpdate(touchUpdate, { args: [{ recordEveryMs: every }] });
    } catch (err) {
      if (isTouchNotNeeded(err)) return seen;
      if (isMissing(err) || isCompletedBeforeUpdate(err)) return null;
      // Refusals other than a miss (a chain too deep to offer) reach the caller with their reason.
      const refusal = fromUpdateFailure(err);
      if (refusal) throw refusal;
      throw err;
    }
  }

  async function view(projectId: string, workItemId: string): Promise<SnapshotWorkflowView | null> {
    try {
      return await handle(projectId, workItemId).query(stateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }

  /**
   * Fire and forget; false when the work item has no open workflow. `scope` is when the cause
   * happened (an ISO time), or which image / pull request it is meant for.
   */
  async function invalidate(
    projectId: string,
    workItemId: string,
    reason: string,
    scope?: string | Omit<InvalidateSignal, 'reason'>,
  ): Promise<boolean> {
    const extra = typeof scope === 'string' ? { occurredAt: scope } : (scope ?? {});
    return signalOpen(() => handle(projectId, workItemId).signal(invalidateSignal, { reason, ...extra }));
  }

  /**
   * Ends the current image now and answers with it (state invalidated); null without an active
   * snapshot. Refused (SnapshotError ImageNotCurrent) when `imageId` names another image.
   */
  async function invalidateImage(
    projectId: string,
    workItemId: string,
    request: InvalidateRequest,
  ): Promise<SnapshotState | null> {
    try {
      return await handle(projectId, workItemId).executeUpdate(invalidateUpdate, { args: [request] });
    } catch (err) {
      if (isMissing(err) || isCompletedBeforeUpdate(err)) return null;
      const refusal = fromUpdateFailure(err);
      if (refusal) throw refusal;
      throw err;
    }
  }

  /**
   * The durable hand-off of a closed pull request: once this returns, its workflow signals every
   * snapshot it ends, with retries. One workflow per merged pull request (a redelivery or a second
   * hook finds the same one, running or closed), one per close (its signed event key) for a close without merge.
   */
  // Concurrent starts of one workflow id contend on the server (each waits for the id's lock), so
  // deliveries of the same pull request arriving together in this process share one start.
  const handOffsInFlight = new Map<string, Promise<{ workflowId: string }>>();

  async function handOffPullRequestClosed(
    input: Omit<PullRequestClosedInput, 'options'>,
    handOff: { startDelayMs?: number } = {},
  ): Promise<{ workflowId: string }> {
    const pr = input.pullRequest;
    const workflowId =
      input.kind === 'merged'
        ? mergedPullRequestWorkflowId(pr)
        : closedPullRequestWorkflowId(pr, input.eventKey ?? input.deliveryId);
    const inFlight = handOffsInFlight.get(workflowId);
    if (inFlight) return inFlight;
    const started = startPullRequestWorkflow(workflowId, input, handOff.startDelayMs ?? 0).finally(() =>
      handOffsInFlight.delete(workflowId),
    );
    handOffsInFlight.set(workflowId, started);
    return started;
  }

  async function startPullRequestWorkflow(
    workflowId: string,
    input: Omit<PullRequestClosedInput, 'options'>,
    startDelayMs: number,
  ): Promise<{ workflowId: string }> {
    const pr = input.pullRequest;
    try {
      await client.workflow.start<PullRequestClosedWorkflowFunction>(WORKFLOW_TYPES.pullRequestClosed, {
        workflowId,
        taskQueue: WORKFLOW_TASK_QUEUE,
        args: [
          {
            ...input,
            // A run of this code knows it is new: its looks in one activity need no marker.
            generation: PULL_REQUEST_RUN_GENERATION,
            ...(pullRequestWorkflowOptions ? { options: pullRequestWorkflowOptions } : {}),
          },
        ],
        workflowIdConflictPolicy: 'USE_EXISTING',
        // Recorded now, run later: the execution exists (and is durable) once the start returns.
        ...(startDelayMs > 0 ? { startDelay: startDelayMs } : {}),
        // A completed one is the record that the pull request merged; only a failed one is redone.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        staticSummary: `Pull request ${pr.repository}#${pr.number} ${input.kind === 'merged' ? 'merged' : 'closed without merge'}`,
        staticDetails:
          `Signals every snapshot workflow linked to \`${pr.repository}#${pr.number}\` or derived from its branch ` +
          `(delivery \`${input.deliveryId}\`), and looks again later for links visibility did not show yet.`,
        typedSearchAttributes: [
          { key: SEARCH_ATTRIBUTE_KEYS.repository, value: pr.repository },
          { key: SEARCH_ATTRIBUTE_KEYS.pullRequest, value: pr.number },
        ],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    return { workflowId };
  }

  async function merged(projectId: string, workItemId: string, signal: MergedSignal): Promise<boolean> {
    return signalOpen(() => handle(projectId, workItemId).signal(mergedSignal, signal));
  }

  async function linkPullRequest(
    projectId: string,
    workItemId: string,
    pullRequest: PullRequestRef,
  ): Promise<SnapshotState | null> {
    try {
      return await handle(projectId, workItemId).executeUpdate(linkPullRequestUpdate, {
        args: [pullRequest],
      });
    } catch (err) {
      if (isMissing(err)) return null;
      const refusal = fromUpdateFailure(err);
      if (refusal) throw refusal;
      throw err;
    }
  }

  return {
    register,
    lookup,
    view,
    invalidate,
    invalidateImage,
    merged,
    linkPullRequest,
    handOffPullRequestClosed,
    handle,
  };
}

export type SnapshotService = ReturnType<typeof createSnapshotService>;

/** The current image as the workflow last published it; null when it holds none or has closed. */
async function readCurrent(h: SnapshotHandle): Promise<SnapshotState | null> {
  const description = await h.describe();
  if (description.status.name !== 'RUNNING') return null;
  const memo = description.memo?.[SNAPSHOT_MEMO_KEY] as SnapshotMemo | undefined;
  // A pending task may hold a merge or an invalidation the memo does not show yet. Runs from
  // before the memo have none.
  if (memo && 'current' in memo && !description.raw.pendingWorkflowTask) return memo.current;
  return (await h.query(stateQuery)).current;
}

/**
 * A lookup of an image expiring within this records its use with an update rather than a signal:
 * the workflow then orders the use against its TTL timer before the lookup answers. Farther out, the
 * signal is in the history long before the timer fires (even when the API stalls between its read
 * and its signal), so a sliding TTL is moved before it can end the image the lookup offered.
 */
export const USE_BY_UPDATE_WITHIN_MS = 10_000;

/**
 * The state the workflow records for a use at `at`, by the API's clock (the workflow's own, a
 * moment later, is what it stores): the answer shows the use, as the touch update's answer does.
 */
function withUse(s: SnapshotState, at: number): SnapshotState {
  const lastUsedAt = new Date(at).toISOString();
  const expiresAt = s.slidingTtl ? new Date(at + s.ttlSeconds * 1000).toISOString() : s.expiresAt;
  return { ...s, lastUsedAt, expiresAt };
}

/** Recording every lookup of a short TTL at the full interval would let a sliding one lapse. */
function recordEveryMs(s: SnapshotState, intervalMs: number): number {
  return Math.min(intervalMs, (s.ttlSeconds * 1000) / 10);
}

function isTouchNotNeeded(err: unknown): boolean {
  return (
    err instanceof WorkflowUpdateFailedError &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === TOUCH_NOT_NEEDED
  );
}

function isMissing(err: unknown): boolean {
  if (err instanceof WorkflowNotFoundError) return true;
  const refusal = fromUpdateFailure(err);
  return refusal?.type === ErrorType.snapshotNotFound;
}

function isCompletedBeforeUpdate(err: unknown): boolean {
  // The server answers NOT_FOUND ("workflow execution already completed") when the run closed
  // between accepting the start and delivering the update.
  return err instanceof WorkflowNotFoundError || (err as { code?: number } | null)?.code === 5;
}

export { SnapshotError };
