// What each message does to a snapshot workflow: workflow.ts wires every handler to one method
// here, and runs the main loop. Updates validate first (a rejected update leaves no trace in the
// history), then act; signals act or are ignored. Workflow code.
import { ApplicationFailure } from '@temporalio/workflow';
import { ErrorType, TOUCH_NOT_NEEDED } from '../../contract/errors.js';
import { REASON_MAX_LENGTH, validatePullRequest, validateRegistrationFields } from '../../contract/limits.js';
import type { VanishedSignal } from '../../contract/reconcile-types.js';
import type {
  EvictSignal,
  InvalidateRequest,
  InvalidateSignal,
  MergedSignal,
  PullRequestRef,
  RegisterRequest,
  RegisterResult,
  SnapshotState,
  TouchRequest,
  UsedSignal,
} from '../../contract/snapshot-types.js';
import { rememberMerge } from '../pull-request/merge-guard.js';
import { targetedByPullRequest } from '../pull-request/match.js';
import { REFUSED_REGISTRATION_KEEPS_CURRENT_PATCH, usePatch } from '../shared/patches.js';
import { SerialLane } from '../shared/workflow-helpers.js';
import { SnapshotCore } from './core.js';
import { notCurrentImage, shuttingDown } from './refusals.js';
import { SnapshotRegistration } from './registration.js';

export class SnapshotKeeper extends SnapshotCore {
  private readonly registration = new SnapshotRegistration(this);
  // Serialises registrations: each one awaits an activity, and two interleaved ones must not both
  // see "no current image".
  private readonly registrations = new SerialLane();

  /** The start of a run: cleanups handed over by the previous run start again, and the state shows. */
  resume(): void {
    // From the top: every step is idempotent, and an activity abandoned by continue-as-new may or
    // may not have run.
    for (const image of this.state.retiring) this.startCleanup(image);
    this.publish();
  }

  async register(req: RegisterRequest): Promise<RegisterResult> {
    const { state } = this;
    state.pendingRegistrations++;
    try {
      return await this.registrations.run(async () => {
        // Registrations recorded before a refusal kept the current image replay the old order. A
        // lean run is new (LEAN_LIFECYCLE_PATCH came after this patch): it has no old order to
        // replay, and skips the call and the marker it would record (an action and two events).
        if (
          this.scopedToPullRequest &&
          req.pullRequest &&
          (this.lean || usePatch(REFUSED_REGISTRATION_KEEPS_CURRENT_PATCH))
        ) {
          return await this.registration.registerChecked(req, req.pullRequest);
        }
        const result = await this.registration.register(req);
        if (this.scopedToPullRequest && req.pullRequest) {
          await this.registration.refuseMergedLink(req.pullRequest, result.snapshot.imageId);
        }
        return result;
      });
    } finally {
      state.pendingRegistrations--;
    }
  }

  validateRegistration(req: RegisterRequest): void {
    const problem = validateRegistrationFields(req ?? {});
    if (problem) throw ApplicationFailure.nonRetryable(problem, ErrorType.invalidRequest);
    if (this.state.closing) throw shuttingDown();
  }

  touch(): SnapshotState {
    const active = this.requireActive();
    const touched = this.state.touch();
    // The last use: lookups read it in the memo to record at most once per interval (the budget
    // asks the workflow's query for its LRU order); a sliding TTL's new expiry shows everywhere.
    if (active.slidingTtl || this.lookupsFromMemo) this.publishUse();
    return touched;
  }

  validateTouch(req: TouchRequest): void {
    const active = this.requireActive();
    // Not offered: the next job starts from its base image, and its commit begins a fresh chain.
    const why = active.reuseBlockedBy;
    if (why) throw ApplicationFailure.nonRetryable(why, ErrorType.chainTooDeep);
    // A rejected update leaves no trace in the history: lookups racing each other past the
    // recording interval record one use, not one each.
    if (this.lookupsFromMemo && this.state.usedWithin(req?.recordEveryMs)) {
      throw ApplicationFailure.nonRetryable('this use is already recorded', TOUCH_NOT_NEEDED);
    }
  }

  /** A lookup's use, by signal (the `used` signal carries no patch: see workflow.ts). */
  recordUse(signal: UsedSignal): void {
    const active = this.state.current;
    // The lookup offered this image; if it has ended or been replaced since, there is no use to record.
    if (!active || active.imageId !== signal?.imageId) return;
    // Lookups of several API processes may race past the interval; the first one records the use.
    if (this.state.usedWithin(signal.recordEveryMs)) return;
    this.state.touch();
    this.publishUse();
  }

  async linkPullRequest(pr: PullRequestRef): Promise<SnapshotState> {
    const { state } = this;
    const linked: SnapshotState = { ...this.requireActive(), pullRequest: pr };
    state.amend(linked);
    this.registration.linkAside(pr);
    this.publish();
    if (this.scopedToPullRequest) await this.registration.refuseMergedLink(pr, linked.imageId);
    return state.current?.imageId === linked.imageId ? state.current : linked;
  }

  validateLink(pr: PullRequestRef): void {
    const problem = validatePullRequest(pr);
    if (problem) throw ApplicationFailure.nonRetryable(problem, ErrorType.invalidRequest);
    this.requireActive();
  }

  merged(signal: MergedSignal): void {
    const { state } = this;
    // A redelivered webhook must not end an image registered after the first delivery.
    if (!state.firstDelivery(signal?.deliveryId)) return;
    const pr = signal?.pullRequest;
    // Remembered even when it ends nothing now: a registration linked to it may be in flight.
    if (pr) rememberMerge(state.mergedPullRequests, pr);
    const message = pr ? `pull request ${pr.repository}#${pr.number} merged` : 'pull request merged';
    // The image set aside by a registration still being checked comes back if it is refused.
    if (
      this.targetsAside(signal?.mergedAt, (aside) => !pr || targetedByPullRequest(aside, pr, signal?.match))
    ) {
      state.endAside('merged', message);
    }
    const current = state.current;
    if (!current || state.happenedBeforeCurrent(signal?.mergedAt)) return;
    // Only the image the merge targets: not a newer one linked elsewhere or to nothing.
    if (this.scopedToPullRequest && pr && !targetedByPullRequest(current, pr, signal?.match)) return;
    this.endCurrent('merged', message);
  }

  invalidate(signal: InvalidateSignal): void {
    const { state } = this;
    const reason = String(signal?.reason ?? 'invalidated').slice(0, REASON_MAX_LENGTH);
    const targets = (image: SnapshotState) =>
      (!signal?.imageId || image.imageId === signal.imageId) &&
      (!signal?.pullRequest || targetedByPullRequest(image, signal.pullRequest, signal.match));
    // An unscoped one targets the image set aside too: it may be current again.
    if (this.targetsAside(signal?.occurredAt, targets)) state.endAside('invalidated', reason);
    const current = state.current;
    if (!current || state.happenedBeforeCurrent(signal?.occurredAt)) return;
    if (!targets(current)) return;
    this.endCurrent('invalidated', reason);
  }

  /** The operator's invalidation: ends the current image now and answers with it. */
  invalidateNow(req: InvalidateRequest): SnapshotState {
    const ended = this.requireActive();
    const reason = String(req?.reason ?? 'invalidated').slice(0, REASON_MAX_LENGTH);
    if (!req?.imageId) this.registration.invalidateAside(reason);
    this.endCurrent('invalidated', reason);
    return this.state.latest(ended);
  }

  validateInvalidation(req: InvalidateRequest): void {
    const active = this.requireActive();
    if (req?.imageId && req.imageId !== active.imageId) {
      throw notCurrentImage(this.workItem, req.imageId, active.imageId);
    }
  }

  evict(signal: EvictSignal): void {
    const reason = String(signal?.reason ?? 'evicted').slice(0, REASON_MAX_LENGTH);
    if (this.targetsAside(undefined, (aside) => !signal?.imageId || aside.imageId === signal.imageId)) {
      this.state.endAside('evicted', reason);
    }
    // An eviction decided for an older image must not hit the image that replaced it.
    const current = this.state.current;
    if (signal?.imageId && current && current.imageId !== signal.imageId) return;
    this.endCurrent('evicted', reason);
  }

  /** From the reconciler, after a 404 on the image id; cleanup then finds nothing and completes. */
  vanished(signal: VanishedSignal): void {
    const aside = this.state.aside;
    if (aside && this.targetsAside(undefined, (a) => !signal?.imageId || a.imageId === signal.imageId)) {
      const text = signal?.message ?? `image ${aside.image} vanished from host ${aside.host}`;
      this.state.endAside('vanished', String(text).slice(0, REASON_MAX_LENGTH));
    }
    const current = this.state.current;
    if (!current || (signal?.imageId && current.imageId !== signal.imageId)) return;
    const message = signal?.message ?? `image ${current.image} vanished from host ${current.host}`;
    this.endCurrent('vanished', String(message).slice(0, REASON_MAX_LENGTH));
  }
}
