// Taking an ended image off its host's disk: invalidate (no new container starts from it), then
// remove. Every step is an activity on the host's Docker queue, retried without limit; a container
// that holds the image (409) is waited out with backoff, and shows as removal-blocked meanwhile.
// Cleanup is what a registration promised, so nothing cancels it. Workflow code.
import type { ActivityOptions } from '@temporalio/common';
import { TimeoutType } from '@temporalio/common';
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import { ActivityFailure, CancellationScope, TimeoutFailure, log, sleep } from '@temporalio/workflow';
import type {
  DockerActivities,
  RemovalBlock,
  RemoveSnapshotImageResult,
} from '../../activities/docker-activities.js';
import type { SnapshotState } from '../../contract/snapshot-types.js';
import { CLEANUP_SHOWS_HOST_WAIT_PATCH, ONE_HOP_CLEANUP_PATCH, usePatch } from '../shared/patches.js';
import { failureMessage } from '../shared/failure-message.js';
import { blockText, hostWaitMessage, retrySummary, stepSummary } from './details.js';
import type { SnapshotWorkflowState, WorkItem } from './state.js';

export interface CleanupSettings {
  /** Backoff between removal attempts while a container keeps the image (409). */
  backoffInitialSeconds: number;
  backoffMaxSeconds: number;
  /** A step without an answer from its host for this long shows the wait. */
  hostWaitNoticeMs: number;
}

/** What the cleanup needs of its workflow. */
export interface CleanupContext {
  readonly workItem: WorkItem;
  readonly state: SnapshotWorkflowState;
  publish(): void;
  cleanupActivities(host: string): ActivityInterfaceFor<DockerActivities>;
}

/** The pace of one image's retries: the backoff doubles up to its maximum, per step. */
interface Pace {
  backoff: number;
}

/** One cleanup step, scheduled with these options beside the cleanup profile's. */
type Step<T> = (options: ActivityOptions) => Promise<T>;

export class SnapshotCleanup {
  constructor(
    private readonly workflow: CleanupContext,
    private readonly settings: CleanupSettings,
    /** LEAN_LIFECYCLE_PATCH: a silent host is noticed without a timer per step (untilHostAnswers). */
    private readonly lean = false,
  ) {}

  /** Starts the cleanup of an ended image, in the background; a refusal for good is recorded. */
  start(image: SnapshotState): void {
    const { state } = this.workflow;
    // Cleanup is promised by the registration: a cancellation of the workflow must not stop it.
    void CancellationScope.nonCancellable(() => this.cleanup(image)).catch((err: unknown) => {
      const message = failureMessage(err);
      log.error('snapshot removal refused', { imageId: image.imageId, error: message });
      state.refuse(image, message);
      this.workflow.publish();
    });
  }

  private async cleanup(image: SnapshotState): Promise<void> {
    const { state } = this.workflow;
    const acts = this.workflow.cleanupActivities(image.host);
    const { invalidation, removal } = cleanupRequests(this.workflow.workItem, image);
    const pace: Pace = { backoff: this.settings.backoffInitialSeconds };
    let invalidated = false;
    let removed: RemoveSnapshotImageResult | undefined;
    // Runs whose cleanup was recorded step by step replay it so; new cleanups take one hop when
    // nothing blocks, and go on step by step from the step that was blocked.
    if (usePatch(ONE_HOP_CLEANUP_PATCH)) {
      const both = await this.whileHostAnswers(image, (options) =>
        acts.retireSnapshotImage.executeWithOptions(
          { ...options, summary: stepSummary('invalidate and remove', image) },
          [invalidation],
        ),
      );
      if (both.step === 'invalidate') {
        await this.blockedFor(image, both.blocked, pace);
      } else {
        invalidated = true;
        removed = both.result;
      }
    }
    while (!invalidated) {
      const outcome = await this.whileHostAnswers(image, (options) =>
        acts.invalidateSnapshot.executeWithOptions(
          { ...options, summary: stepSummary('invalidate', image) },
          [invalidation],
        ),
      );
      if (typeof outcome === 'string') break;
      await this.blockedFor(image, outcome, pace);
    }
    pace.backoff = this.settings.backoffInitialSeconds;
    for (;;) {
      const result =
        removed ??
        (await this.whileHostAnswers(image, (options) =>
          acts.removeSnapshotImage.executeWithOptions(
            { ...options, summary: stepSummary('remove', image) },
            [removal],
          ),
        ));
      removed = undefined;
      if (result.outcome === 'in-use' || result.outcome === 'blocked') {
        await this.blockedFor(
          image,
          { outcome: result.outcome, holders: result.holders, reason: result.reason },
          pace,
        );
        continue;
      }
      state.finish(endedState(state.latest(image), image, result));
      this.workflow.publish();
      return;
    }
  }

  /** Shows the block, waits the backoff, and doubles it for the next attempt. */
  private async blockedFor(image: SnapshotState, block: RemovalBlock, pace: Pace): Promise<void> {
    const { state } = this.workflow;
    this.replaceRetiring(image.imageId, {
      ...state.latest(image),
      state: 'removal-blocked',
      blockedBy: blockText(block),
    });
    await sleep(pace.backoff * 1000, { summary: retrySummary(image, pace.backoff) });
    pace.backoff = Math.min(pace.backoff * 2, this.settings.backoffMaxSeconds);
  }

  /**
   * A cleanup step waits in its host's queue for as long as that host's Docker worker is away (the
   * image is there, and only that worker can reach it). After a while without an answer the
   * snapshot says so (removal-blocked, naming the host, in the query, the search attributes and
   * the details), and takes it back once the host answers.
   */
  private async whileHostAnswers<T>(image: SnapshotState, schedule: Step<T>): Promise<T> {
    if (this.lean) return this.untilHostAnswers(image, schedule);
    // Scheduled before the patch's call and its timer, as runs from before the lean lifecycle have it.
    const step = schedule({});
    if (!usePatch(CLEANUP_SHOWS_HOST_WAIT_PATCH)) return step;
    const { state } = this.workflow;
    const waiting = hostWaitMessage(image.host);
    let before: SnapshotState | undefined;
    const notice = new CancellationScope();
    notice
      .run(() =>
        sleep(this.settings.hostWaitNoticeMs, { summary: `notice if ${image.host} does not answer` }),
      )
      .then(
        () => {
          if (!state.isRetiring(image.imageId)) return;
          before = state.latest(image);
          this.replaceRetiring(image.imageId, { ...before, state: 'removal-blocked', blockedBy: waiting });
        },
        () => undefined,
      );
    try {
      return await step;
    } finally {
      notice.cancel();
      const now = state.latest(image);
      if (before && now.blockedBy === waiting && state.isRetiring(image.imageId))
        this.replaceRetiring(image.imageId, { ...now, state: before.state, blockedBy: before.blockedBy });
    }
  }

  /**
   * The lean way to show a silent host (LEAN_LIFECYCLE_PATCH): the step's first scheduling may wait
   * in the host's queue no longer than the notice (its schedule-to-start timeout, which the server
   * does not retry: only a worker that never takes the task ends it); then the wait shows, and the
   * step is scheduled again without a limit. A timer beside every step cost an action and two
   * events each time; this costs one failed activity, only when a host is silent. A step that a
   * worker took and that hangs is not shown as a wait: its heartbeat and start-to-close timeouts
   * retry it, as before.
   */
  private async untilHostAnswers<T>(image: SnapshotState, schedule: Step<T>): Promise<T> {
    try {
      return await schedule({ scheduleToStartTimeout: this.settings.hostWaitNoticeMs });
    } catch (err) {
      if (!hostSilent(err)) throw err;
    }
    const { state } = this.workflow;
    const waiting = hostWaitMessage(image.host);
    let before: SnapshotState | undefined;
    if (state.isRetiring(image.imageId)) {
      before = state.latest(image);
      this.replaceRetiring(image.imageId, { ...before, state: 'removal-blocked', blockedBy: waiting });
    }
    try {
      return await schedule({});
    } finally {
      const now = state.latest(image);
      if (before && now.blockedBy === waiting && state.isRetiring(image.imageId))
        this.replaceRetiring(image.imageId, { ...now, state: before.state, blockedBy: before.blockedBy });
    }
  }

  private replaceRetiring(imageId: string, next: SnapshotState): void {
    this.workflow.state.replaceRetiring(imageId, next);
    this.workflow.publish();
  }
}

/** The step waited in its host's queue for the whole notice: no worker of that host took it. */
function hostSilent(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START
  );
}

/** The invalidation and removal asked of the host: this image, and the references it owns. */
function cleanupRequests(workItem: WorkItem, image: SnapshotState) {
  const references = image.references;
  const owned = references ? { references } : {};
  return {
    invalidation: { ...workItem, image: image.image, imageId: image.imageId, ...owned },
    removal: { ...workItem, imageId: image.imageId, ...owned },
  };
}

/** The image's last state once its removal is done: removed, or kept by references not ours. */
function endedState(
  latest: SnapshotState,
  image: SnapshotState,
  result: RemoveSnapshotImageResult,
): SnapshotState {
  if (result.outcome === 'kept') {
    return {
      ...latest,
      state: 'kept',
      blockedBy: null,
      keptBy: result.holders,
      ...freed(result),
      message:
        `kept: still named by ${result.holders.join(', ')}, which snapkeeper does not own; ` +
        'its own references were removed and the image stays',
    };
  }
  const note =
    result.outcome === 'held-by-children'
      ? `untagged; its layers stay with child image(s) ${result.holders.join(', ')} until they go`
      : image.message;
  return { ...latest, state: 'removed', blockedBy: null, message: note, ...freed(result) };
}

/**
 * What the removal freed, as its activity measured it. Only the query's answer and the Web UI's
 * details carry it (neither is a command), so runs recorded before it replay unchanged.
 */
function freed(result: RemoveSnapshotImageResult): Pick<SnapshotState, 'freedBytes' | 'freedBytesMeasure'> {
  if (result.freedBytes === undefined) return {};
  return { freedBytes: result.freedBytes, freedBytesMeasure: result.freedBytesMeasure ?? 'measured' };
}
