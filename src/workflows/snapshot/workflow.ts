// One durable workflow per work item owns that work item's snapshot images: the current one, and
// the ones on their way off the disk. Deterministic code only: time comes from the workflow clock,
// all I/O is in activities on the Docker queue of the host that holds the image. This file is the
// wiring: each handler delegates to the keeper (keeper.ts: what each message does), and the main
// loop waits for the current image's expiry, the end of the work, or a continue-as-new. The state
// and its transitions are in state.ts, the registration in registration.ts, the cleanup in
// cleanup.ts, what is shown outside in publisher.ts.
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { ErrorType } from '../../contract/errors.js';
import { ID_PATTERN } from '../../contract/limits.js';
import {
  evictSignal,
  invalidateSignal,
  invalidateUpdate,
  linkPullRequestUpdate,
  mergedSignal,
  registerUpdate,
  stateQuery,
  touchUpdate,
  usedSignal,
  vanishedSignal,
} from '../../contract/messages.js';
import { snapshotWorkflowId } from '../../contract/names.js';
import type { SnapshotState } from '../../contract/snapshot-types.js';
import { CONTINUE_AS_NEW_DECISION_RECORDED_PATCH, usePatch } from '../shared/patches.js';
import { continueAsNewDue } from '../shared/workflow-helpers.js';
import { ttlSummary } from './details.js';
import { SnapshotKeeper } from './keeper.js';
import type { SnapshotCarry } from './state.js';

export type { SnapshotCarry } from './state.js';

export interface SnapshotWorkflowOptions {
  /** Continue-as-new once the history holds this many events (or when the server suggests it). */
  continueAsNewAfterEvents?: number;
  /** Backoff between removal attempts while a container keeps the image (409). */
  removalBackoffInitialSeconds?: number;
  removalBackoffMaxSeconds?: number;
  /** A cleanup step without an answer from its host for this long shows the wait (30). */
  hostWaitNoticeSeconds?: number;
}

export interface SnapshotWorkflowInput {
  projectId: string;
  workItemId: string;
  options?: SnapshotWorkflowOptions;
  carry?: SnapshotCarry;
  /**
   * Which code started the run (SNAPSHOT_RUN_GENERATION, src/contract/run-generation.ts): the API
   * sets it, continue-as-new carries it. Absent in runs started by earlier code, which decide by
   * their patches.
   */
  generation?: number;
}

export interface SnapshotWorkflowResult {
  last: SnapshotState | null;
}

const DEFAULT_CONTINUE_AS_NEW_AFTER = 2000;

export async function snapshotWorkflow(input: SnapshotWorkflowInput): Promise<SnapshotWorkflowResult> {
  const { projectId, workItemId } = input;
  assertIdentity(projectId, workItemId);
  const options = input.options ?? {};
  const continueAsNewAfter = options.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER;
  const keeper = new SnapshotKeeper(
    { projectId, workItemId },
    input.carry,
    {
      backoffInitialSeconds: options.removalBackoffInitialSeconds ?? 2,
      backoffMaxSeconds: options.removalBackoffMaxSeconds ?? 60,
      hostWaitNoticeMs: (options.hostWaitNoticeSeconds ?? 30) * 1000,
    },
    input.generation ?? 0,
  );
  const { state } = keeper;
  const continueAsNewNow = () => continueAsNewDue(continueAsNewAfter);
  setHandlers(keeper);
  keeper.resume();

  try {
    for (;;) {
      const active = state.current;
      if (active) {
        const remaining = Math.max(Date.parse(active.expiresAt) - Date.now(), 1);
        const moved = expiryMoved(keeper, active);
        const woke = await condition(() => moved() || continueAsNewNow(), remaining, {
          summary: ttlSummary(active),
        });
        if (!woke && !moved()) {
          keeper.endCurrent('expired', `TTL of ${active.ttlSeconds}s reached`);
        }
      } else {
        await condition(() => state.current !== null || state.drained() || continueAsNewNow());
        if (state.current === null && state.drained()) {
          await condition(allHandlersFinished);
          if (state.current === null && state.drained()) break;
        }
      }
      if (continueAsNewNow()) {
        // The waits above wake on the history's length, also in the task of an update its validator
        // rejected: a speculative task, which the server drops if it ends without a command, and
        // which replay gets no activation for unless it holds one it announces (issue 17). Live,
        // the loop moved on there (a timer cancelled, a continue-as-new) where replay never wakes.
        // The marker is such a command: the server keeps the task and replay wakes in it too.
        usePatch(CONTINUE_AS_NEW_DECISION_RECORDED_PATCH);
        await condition(() => state.pendingRegistrations === 0 && allHandlersFinished());
        await continueAsNew<typeof snapshotWorkflow>({
          projectId,
          workItemId,
          options,
          carry: state.carry(),
          // As it came: a run started without one decides by its patches in every run after it.
          ...(input.generation !== undefined ? { generation: input.generation } : {}),
        });
      }
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    state.closing = true;
    await CancellationScope.nonCancellable(async () => {
      keeper.endCurrent('cancelled', 'the workflow was cancelled');
      await condition(() => state.drained());
    });
    throw err;
  }

  if (state.refusals.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `removal refused: ${state.refusals.join('; ')}`,
      ErrorType.unmanagedImage,
    );
  }
  return { last: state.last };
}

/** Each message to the keeper; in this order, as recorded histories have them. */
function setHandlers(keeper: SnapshotKeeper): void {
  setHandler(registerUpdate, (req) => keeper.register(req), {
    validator: (req) => keeper.validateRegistration(req),
  });
  setHandler(touchUpdate, () => keeper.touch(), { validator: (req) => keeper.validateTouch(req) });
  // No patch, deliberately: histories of the previous release (db14c84) handled this signal without
  // a marker, and histories from before it (27f0425) received it without a handler, also without a
  // marker; both are alike up to the signal, so no patch can tell them apart. The previous
  // release's behaviour is kept (test/fixtures/histories/README.md, workflow-replay.test.ts).
  setHandler(usedSignal, (signal) => keeper.recordUse(signal));
  setHandler(linkPullRequestUpdate, (pr) => keeper.linkPullRequest(pr), {
    validator: (pr) => keeper.validateLink(pr),
  });
  setHandler(mergedSignal, (signal) => keeper.merged(signal));
  setHandler(invalidateSignal, (signal) => keeper.invalidate(signal));
  setHandler(invalidateUpdate, (req) => keeper.invalidateNow(req), {
    validator: (req) => keeper.validateInvalidation(req),
  });
  setHandler(evictSignal, (signal) => keeper.evict(signal));
  setHandler(vanishedSignal, (signal) => keeper.vanished(signal));
  setHandler(stateQuery, () => keeper.state.view());
}

/**
 * When the TTL timer must be set again. It waits for this image's expiry: a recorded use that does
 * not move it (a fixed TTL, or a sliding one within its granule) leaves the timer alone. Runs from
 * before the memo re-arm it on every change of the current image.
 */
function expiryMoved(keeper: SnapshotKeeper, active: SnapshotState): () => boolean {
  const { state } = keeper;
  return keeper.lookupsFromMemo
    ? () => state.current?.imageId !== active.imageId || state.current.expiresAt !== active.expiresAt
    : () => state.current !== active;
}

/**
 * The workflow id is what makes a work item's snapshots one workflow; a run under another id (a
 * client starting it by hand) would hold images no lookup or reconciler finds under its name.
 */
function assertIdentity(projectId: unknown, workItemId: unknown): void {
  const id = workflowInfo().workflowId;
  if (typeof projectId !== 'string' || !ID_PATTERN.test(projectId)) {
    throw ApplicationFailure.nonRetryable(
      `snapshot workflow ${id}: projectId ${JSON.stringify(projectId)} is not a valid id`,
      ErrorType.invalidRequest,
    );
  }
  if (typeof workItemId !== 'string' || !ID_PATTERN.test(workItemId)) {
    throw ApplicationFailure.nonRetryable(
      `snapshot workflow ${id}: workItemId ${JSON.stringify(workItemId)} is not a valid id`,
      ErrorType.invalidRequest,
    );
  }
  const expected = snapshotWorkflowId(projectId, workItemId);
  if (id !== expected) {
    throw ApplicationFailure.nonRetryable(
      `workflow id ${id} does not match project ${projectId} and work item ${workItemId}: ` +
        `their snapshot workflow is ${expected}`,
      ErrorType.invalidRequest,
    );
  }
}
