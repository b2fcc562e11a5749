// One durable workflow per work item owns that work item's snapshot images: the current one, and
// the ones on their way off the disk. Deterministic code only: time comes from the workflow clock,
// all I/O is in activities on the Docker queue of the host that holds the image. This file wires
// the handlers and runs the main loop and the cleanup; the state and its transitions are in
// state.ts, what the Web UI shows in details.ts.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import type {
  DockerActivities,
  RemovalBlock,
  RemoveSnapshotImageResult,
} from '../../activities/docker-activities.js';
import { ErrorType, NON_RETRYABLE_DOCKER_ERRORS, TOUCH_NOT_NEEDED } from '../../contract/errors.js';
import { CLEANUP_ACTIVITY_PROFILE } from '../shared/activity-profiles.js';
import {
  DEFAULT_MAX_LAYER_DEPTH,
  DEFAULT_TTL_SECONDS,
  ID_PATTERN,
  REASON_MAX_LENGTH,
  validatePullRequest,
  validateRegistrationFields,
} from '../../contract/limits.js';
import { SNAPSHOT_MEMO_KEY, dockerTaskQueue, snapshotWorkflowId } from '../../contract/names.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../../contract/search-attribute-keys.js';
import type {
  EndReason,
  ImageFacts,
  PullRequestRef,
  RegisterRequest,
  RegisterResult,
  SnapshotMemo,
  SnapshotState,
} from '../../contract/snapshot-types.js';
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
import { admitToBudget, releaseFromBudget, signalAdmission } from './budget.js';
import { failureMessage } from '../shared/failure-message.js';
import { heardMerge, mergeRecorded, rememberMerge } from '../pull-request/merge-guard.js';
import { meantFor } from '../pull-request/match.js';
import {
  blockText,
  hostWaitMessage,
  retrySummary,
  snapshotDetails,
  stepSummary,
  ttlSummary,
} from './details.js';
import type { SnapshotCarry } from './state.js';
import { SnapshotWorkflowState } from './state.js';
import { SerialLane, continueAsNewDue, nowIso, plusSeconds } from '../shared/workflow-helpers.js';

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
}

export interface SnapshotWorkflowResult {
  last: SnapshotState | null;
}

const DEFAULT_CONTINUE_AS_NEW_AFTER = 2000;
/**
 * Runs started before lookups were answered from the memo replay without it: they publish no
 * memo, re-arm the TTL timer on every touch and accept every touch.
 */
const FREE_LOOKUPS_PATCH = 'lookups-from-memo';
/** Runs whose cleanup started before it took one hop replay the two activities. */
const ONE_HOP_CLEANUP_PATCH = 'one-hop-cleanup';
/** Registrations recorded before admissions by signal replay the awaited admission. */
const BUDGET_SIGNAL_PATCH = 'budget-admission-by-signal';
/** Runs started before cleanup showed a host's silence replay without its timer. */
const HOST_WAIT_NOTICE_PATCH = 'cleanup-shows-host-wait';
/**
 * Registrations linked to a pull request recorded before a refusal kept the current image replay
 * the old order: the current image ended (replaced) before the merge check, so a registration
 * refused by it had already removed the image it would have replaced.
 */
export const REFUSAL_KEEPS_CURRENT_PATCH = 'refused-registration-keeps-current';

// Registration answers the caller synchronously, so a host whose Docker worker is down must fail
// fast with a clear message instead of queueing the check forever.
const registrationProfile = {
  scheduleToStartTimeout: '20 seconds',
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_DOCKER_ERRORS },
} as const;

interface HostActivities {
  registration: ActivityInterfaceFor<DockerActivities>;
  cleanup: ActivityInterfaceFor<DockerActivities>;
}

export async function snapshotWorkflow(input: SnapshotWorkflowInput): Promise<SnapshotWorkflowResult> {
  const { projectId, workItemId } = input;
  assertIdentity(projectId, workItemId);
  const options = input.options ?? {};
  const continueAsNewAfter = options.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER;
  const backoffInitial = options.removalBackoffInitialSeconds ?? 2;
  const backoffMax = options.removalBackoffMaxSeconds ?? 60;
  const hostWaitNoticeMs = (options.hostWaitNoticeSeconds ?? 30) * 1000;

  const state = new SnapshotWorkflowState(input.carry);
  // Runs started before pull request scoping replay their histories with the old rules (a merge
  // ends the current image, no merge check): the new rules schedule other commands.
  const scopedToPullRequest = patched('pull-request-scope');
  const freeLookups = patched(FREE_LOOKUPS_PATCH);
  // Serialises registrations: each one awaits an activity, and two interleaved ones must not both
  // see "no current image".
  const registrations = new SerialLane();
  const continueAsNewNow = () => continueAsNewDue(continueAsNewAfter);

  const hosts = new Map<string, HostActivities>();
  function activitiesOn(host: string): HostActivities {
    let acts = hosts.get(host);
    if (!acts) {
      const taskQueue = dockerTaskQueue(host);
      acts = {
        registration: proxyActivities<DockerActivities>({ ...registrationProfile, taskQueue }),
        cleanup: proxyActivities<DockerActivities>({ ...CLEANUP_ACTIVITY_PROFILE, taskQueue }),
      };
      hosts.set(host, acts);
    }
    return acts;
  }

  let published = { memo: '', attributes: '', details: '' };
  /** Shows the state: memo (for lookups), search attributes, the Web UI's current details. */
  function publish(): void {
    const current = state.current;
    if (freeLookups) {
      // Lookups read the current image from here (DescribeWorkflowExecution), without a worker.
      const memo = JSON.stringify(current);
      if (memo !== published.memo) {
        upsertMemo({ [SNAPSHOT_MEMO_KEY]: { current } satisfies SnapshotMemo });
        published = { ...published, memo };
      }
    }
    const shown = state.shown();
    if (!shown) return;
    const status = state.shownStatus(shown);
    const pairs: SearchAttributeUpdatePair[] = [
      { key: SEARCH_ATTRIBUTE_KEYS.projectId, value: projectId },
      { key: SEARCH_ATTRIBUTE_KEYS.workItemId, value: workItemId },
      { key: SEARCH_ATTRIBUTE_KEYS.image, value: shown.image },
      { key: SEARCH_ATTRIBUTE_KEYS.host, value: shown.host },
      { key: SEARCH_ATTRIBUTE_KEYS.state, value: status },
      { key: SEARCH_ATTRIBUTE_KEYS.expiresAt, value: new Date(shown.expiresAt) },
      { key: SEARCH_ATTRIBUTE_KEYS.sizeBytes, value: shown.sizeBytes },
    ];
    // Cleared when the shown image has no pull request, so a replacement without one is not found
    // (and ended) by the merge of its predecessor's pull request.
    pairs.push({ key: SEARCH_ATTRIBUTE_KEYS.repository, value: shown.pullRequest?.repository ?? null });
    pairs.push({ key: SEARCH_ATTRIBUTE_KEYS.pullRequest, value: shown.pullRequest?.number ?? null });
    const details = snapshotDetails(status, shown, state.retiring);
    if (!freeLookups) {
      upsertSearchAttributes(pairs);
      setCurrentDetails(details);
      return;
    }
    // An upsert of unchanged attributes is still an event; a recorded use changes none of them.
    const attributes = JSON.stringify(pairs);
    if (attributes !== published.attributes) {
      upsertSearchAttributes(pairs);
      published = { ...published, attributes };
    }
    if (details !== published.details) {
      setCurrentDetails(details);
      published = { ...published, details };
    }
  }

  function replaceRetiring(imageId: string, next: SnapshotState): void {
    state.replaceRetiring(imageId, next);
    publish();
  }

  function endCurrent(reason: EndReason, message: string): void {
    const ended = state.end(reason, message);
    if (!ended) return;
    publish();
    // The budget counted the eviction itself, and a replacement's admission counts for both; an
    // image ended while its registration was still being checked was never counted.
    if (reason !== 'evicted' && reason !== 'replaced' && ended.imageId !== state.unadmitted) {
      releaseFromBudget(ended);
    }
    log.info('snapshot ends', { imageId: ended.imageId, reason, message });
    startCleanup(ended);
  }

  function startCleanup(image: SnapshotState): void {
    // Cleanup is promised by the registration: a cancellation of the workflow must not stop it.
    void CancellationScope.nonCancellable(() => cleanup(image)).catch((err: unknown) => {
      const message = failureMessage(err);
      log.error('snapshot removal refused', { imageId: image.imageId, error: message });
      state.refuse(image, message);
      publish();
    });
  }

  async function cleanup(image: SnapshotState): Promise<void> {
    const acts = activitiesOn(image.host).cleanup;
    const owner = { projectId, workItemId };
    const references = image.references;
    let backoff = backoffInitial;
    const blockedFor = async (block: RemovalBlock) => {
      replaceRetiring(image.imageId, {
        ...state.latest(image),
        state: 'removal-blocked',
        blockedBy: blockText(block),
      });
      await sleep(backoff * 1000, { summary: retrySummary(image, backoff) });
      backoff = Math.min(backoff * 2, backoffMax);
    };
    const invalidation = {
      ...owner,
      image: image.image,
      imageId: image.imageId,
      ...(references ? { references } : {}),
    };
    const removal = { ...owner, imageId: image.imageId, ...(references ? { references } : {}) };
    let invalidated = false;
    let removed: RemoveSnapshotImageResult | undefined;
    // Runs whose cleanup was recorded step by step replay it so; new cleanups take one hop when
    // nothing blocks, and go on step by step from the step that was blocked.
    if (patched(ONE_HOP_CLEANUP_PATCH)) {
      const both = await whileHostAnswers(
        image,
        acts.retireSnapshotImage.executeWithOptions(
          { summary: stepSummary('invalidate and remove', image) },
          [invalidation],
        ),
      );
      if (both.step === 'invalidate') {
        await blockedFor(both.blocked);
      } else {
        invalidated = true;
        removed = both.result;
      }
    }
    while (!invalidated) {
      const outcome = await whileHostAnswers(
        image,
        acts.invalidateSnapshot.executeWithOptions({ summary: stepSummary('invalidate', image) }, [
          invalidation,
        ]),
      );
      if (typeof outcome === 'string') break;
      await blockedFor(outcome);
    }
    backoff = backoffInitial;
    for (;;) {
      const result =
        removed ??
        (await whileHostAnswers(
          image,
          acts.removeSnapshotImage.executeWithOptions({ summary: stepSummary('remove', image) }, [removal]),
        ));
      removed = undefined;
      if (result.outcome === 'in-use' || result.outcome === 'blocked') {
        await blockedFor({ outcome: result.outcome, holders: result.holders, reason: result.reason });
        continue;
      }
      let ended: SnapshotState;
      if (result.outcome === 'kept') {
        ended = {
          ...state.latest(image),
          state: 'kept',
          blockedBy: null,
          keptBy: result.holders,
          message:
            `kept: still named by ${result.holders.join(', ')}, which snapkeeper does not own; ` +
            'its own references were removed and the image stays',
        };
      } else {
        const note =
          result.outcome === 'held-by-children'
            ? `untagged; its layers stay with child image(s) ${result.holders.join(', ')} until they go`
            : image.message;
        ended = { ...state.latest(image), state: 'removed', blockedBy: null, message: note };
      }
      state.finish(ended);
      publish();
      return;
    }
  }

  /**
   * A cleanup step waits in its host's queue for as long as that host's Docker worker is away (the
   * image is there, and only that worker can reach it). After a while without an answer the
   * snapshot says so (removal-blocked, naming the host, in the query, the search attributes and
   * the details), and takes it back once the host answers.
   */
  async function whileHostAnswers<T>(image: SnapshotState, step: Promise<T>): Promise<T> {
    if (!patched(HOST_WAIT_NOTICE_PATCH)) return step;
    const waiting = hostWaitMessage(image.host);
    let before: SnapshotState | undefined;
    const notice = new CancellationScope();
    notice
      .run(() => sleep(hostWaitNoticeMs, { summary: `notice if ${image.host} does not answer` }))
      .then(
        () => {
          if (!state.isRetiring(image.imageId)) return;
          before = state.latest(image);
          replaceRetiring(image.imageId, { ...before, state: 'removal-blocked', blockedBy: waiting });
        },
        () => undefined,
      );
    try {
      return await step;
    } finally {
      notice.cancel();
      const now = state.latest(image);
      if (before && now.blockedBy === waiting && state.isRetiring(image.imageId))
        replaceRetiring(image.imageId, { ...now, state: before.state, blockedBy: before.blockedBy });
    }
  }

  const shuttingDown = () =>
    ApplicationFailure.nonRetryable('the snapshot workflow is shutting down', ErrorType.invalidRequest);

  async function register(req: RegisterRequest): Promise<RegisterResult> {
    const facts = await inspectForRegistration(req);
    const unchanged = registerSameImage(req, facts);
    if (unchanged) return unchanged;
    const now = nowIso();
    const ttlSeconds = req.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    const replaced = state.current;
    if (replaced) endCurrent('replaced', `replaced by ${req.image} (${facts.imageId})`);
    const accepted = acceptedState(req, facts, now, ttlSeconds);
    state.accept(accepted);
    publish();
    // Per-host budget; may evict other snapshots, never fails. Far from the host's limits the
    // registration answers at once and the budget counts the image afterwards.
    if (facts.budgetHeadroom && patched(BUDGET_SIGNAL_PATCH)) signalAdmission(accepted, replaced);
    else await admitToBudget(accepted, replaced);
    return { outcome: replaced ? 'replaced' : 'created', snapshot: accepted };
  }

  /**
   * A registration linked to a pull request: the new image is published (so the merge's search
   * finds the link, see merge-guard.ts), then checked against the merge record; the image it
   * replaces is only set aside meanwhile. Accepted, the image set aside ends (replaced); refused,
   * the new image ends and the one set aside is current again, as if nothing had been asked, unless
   * an ending meant for it (its own pull request's merge, say) came in the meantime.
   */
  async function registerChecked(req: RegisterRequest, pr: PullRequestRef): Promise<RegisterResult> {
    const facts = await inspectForRegistration(req);
    const unchanged = registerSameImage(req, facts);
    if (unchanged) {
      await refuseMergedLink(pr, unchanged.snapshot.imageId);
      return unchanged;
    }
    const now = nowIso();
    const ttlSeconds = req.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    const displaced = state.current;
    if (displaced) state.setAside();
    const accepted = acceptedState(req, facts, now, ttlSeconds);
    state.accept(accepted);
    state.unadmitted = accepted.imageId;
    publish();
    let merged: boolean;
    try {
      merged = heardMerge(state.mergedPullRequests, pr) || (await mergeRecorded(pr));
    } finally {
      state.unadmitted = null;
    }
    const stillCurrent = state.current?.imageId === accepted.imageId;
    if (merged) {
      rememberMerge(state.mergedPullRequests, pr);
      if (stillCurrent) {
        // Never counted by the budget: ended without a release.
        const ended = state.end(
          'merged',
          `pull request ${pr.repository}#${pr.number} had already merged when it was linked`,
        );
        if (ended) {
          log.info('snapshot ends', { imageId: ended.imageId, reason: 'merged', message: ended.message });
          startCleanup(ended);
        }
      }
      const ending = state.restoreAside();
      publish();
      if (ending) endCurrent(ending.reason, ending.message);
      else if (state.closing) endCurrent('cancelled', 'the workflow was cancelled');
      throw ApplicationFailure.nonRetryable(
        `pull request ${pr.repository}#${pr.number} has already merged and cannot keep a snapshot alive: ` +
          `the image registered for it (${accepted.imageId}) ended and is being removed` +
          (displaced ? `; ${displaced.imageId} stays the current snapshot` : ''),
        ErrorType.pullRequestMerged,
      );
    }
    const retired = state.retireAside('replaced', `replaced by ${req.image} (${facts.imageId})`);
    if (retired) {
      publish();
      log.info('snapshot ends', { imageId: retired.imageId, reason: 'replaced', message: retired.message });
      startCleanup(retired);
    }
    if (!stillCurrent) {
      // Ended while it was checked (an invalidation, a cancel): the budget never counted it, and
      // the image it replaced no longer counts either.
      if (retired && retired.host === accepted.host) releaseFromBudget(retired);
    } else if (facts.budgetHeadroom && patched(BUDGET_SIGNAL_PATCH)) signalAdmission(accepted, retired);
    else await admitToBudget(accepted, retired);
    return { outcome: displaced ? 'replaced' : 'created', snapshot: accepted };
  }

  async function inspectForRegistration(req: RegisterRequest): Promise<ImageFacts> {
    let facts: ImageFacts;
    try {
      facts = await activitiesOn(req.host).registration.inspectSnapshotImage.executeWithOptions(
        { summary: `inspect ${req.image} on ${req.host}` },
        [{ projectId, workItemId, image: req.image }],
      );
    } catch (err) {
      throw registrationFailure(err, req);
    }
    if (state.closing) throw shuttingDown();
    if (state.isRetiring(facts.imageId)) {
      throw ApplicationFailure.nonRetryable(
        `image ${req.image} (${facts.imageId}) is being removed and cannot be registered again`,
        ErrorType.invalidRequest,
      );
    }
    return facts;
  }

  /** The image registered is the current one: the links and references only (unchanged). */
  function registerSameImage(req: RegisterRequest, facts: ImageFacts): RegisterResult | null {
    const current = state.current;
    if (!current || current.imageId !== facts.imageId || current.host !== req.host) return null;
    const known = current.references ?? [];
    const references = [...known, ...facts.references.filter((r) => !known.includes(r))];
    if ((req.pullRequest && !current.pullRequest) || references.length !== known.length) {
      state.amend({ ...current, pullRequest: current.pullRequest ?? req.pullRequest ?? null, references });
      publish();
    }
    return { outcome: 'unchanged', snapshot: state.current as SnapshotState };
  }

  function acceptedState(
    req: RegisterRequest,
    facts: ImageFacts,
    now: string,
    ttlSeconds: number,
  ): SnapshotState {
    return {
      projectId,
      workItemId,
      image: req.image,
      imageId: facts.imageId,
      host: req.host,
      state: 'active',
      createdAt: now,
      expiresAt: plusSeconds(now, ttlSeconds),
      lastUsedAt: now,
      sizeBytes: facts.sizeBytes,
      ttlSeconds,
      slidingTtl: req.slidingTtl ?? false,
      pullRequest: req.pullRequest ?? null,
      endReason: null,
      blockedBy: null,
      message: null,
      references: facts.references,
      layerDepth: facts.layerDepth,
      reuseBlockedBy: chainTooDeep(facts.layerDepth, req.maxLayerDepth ?? DEFAULT_MAX_LAYER_DEPTH),
      keptBy: null,
    };
  }

  const requireActive = (): SnapshotState => {
    if (!state.current) {
      throw ApplicationFailure.nonRetryable(
        `no active snapshot for ${projectId}/${workItemId}`,
        ErrorType.snapshotNotFound,
      );
    }
    return state.current;
  };

  const mergedRefusal = (pr: PullRequestRef, ended: boolean) =>
    ApplicationFailure.nonRetryable(
      `pull request ${pr.repository}#${pr.number} has already merged and cannot keep a snapshot alive: ` +
        (ended ? 'the snapshot ended and its image is being removed' : 'the link was not made'),
      ErrorType.pullRequestMerged,
    );

  /**
   * After a link became visible (published), a merge that was already recorded ends the image at
   * once and the caller gets 409; see merge-guard.ts for why this order closes the race.
   */
  async function refuseMergedLink(pr: PullRequestRef, imageId: string): Promise<void> {
    if (!heardMerge(state.mergedPullRequests, pr) && !(await mergeRecorded(pr))) return;
    rememberMerge(state.mergedPullRequests, pr);
    const current = state.current;
    const ends = current?.imageId === imageId && meantFor(current, pr, 'link');
    if (ends) {
      endCurrent(
        'merged',
        `pull request ${pr.repository}#${pr.number} had already merged when it was linked`,
      );
    }
    throw mergedRefusal(pr, ends);
  }

  /** Whether an ending that happened at `at` is meant for the image set aside, if one is. */
  function asideMeant(at: string | undefined, meant: (aside: SnapshotState) => boolean): boolean {
    const aside = state.aside;
    return !!aside && !SnapshotWorkflowState.happenedBefore(aside, at) && meant(aside);
  }

  //
  // Message handlers
  //
  setHandler(
    registerUpdate,
    async (req) => {
      state.pendingRegistrations++;
      try {
        return await registrations.run(async () => {
          // Registrations recorded before a refusal kept the current image replay the old order.
          if (scopedToPullRequest && req.pullRequest && patched(REFUSAL_KEEPS_CURRENT_PATCH)) {
            return await registerChecked(req, req.pullRequest);
          }
          const result = await register(req);
          if (scopedToPullRequest && req.pullRequest) {
            await refuseMergedLink(req.pullRequest, result.snapshot.imageId);
          }
          return result;
        });
      } finally {
        state.pendingRegistrations--;
      }
    },
    {
      validator: (req) => {
        const problem = validateRegistrationFields(req ?? {});
        if (problem) throw ApplicationFailure.nonRetryable(problem, ErrorType.invalidRequest);
        if (state.closing) throw shuttingDown();
      },
    },
  );

  setHandler(
    touchUpdate,
    (_req) => {
      const active = requireActive();
      const touched = state.touch();
      // The memo carries the last use, which the budget's LRU order reads.
      if (active.slidingTtl || freeLookups) publish();
      return touched;
    },
    {
      validator: (req) => {
        const active = requireActive();
        // Not offered: the next job starts from its base image, and its commit begins a fresh chain.
        const why = active.reuseBlockedBy;
        if (why) throw ApplicationFailure.nonRetryable(why, ErrorType.chainTooDeep);
        // A rejected update leaves no trace in the history: lookups racing each other past the
        // recording interval record one use, not one each.
        if (freeLookups && state.usedWithin(req?.recordEveryMs)) {
          throw ApplicationFailure.nonRetryable('this use is already recorded', TOUCH_NOT_NEEDED);
        }
      },
    },
  );

  // No patch, deliberately: histories of the previous release (db14c84) handled this signal without
  // a marker, and histories from before it (27f0425) received it without a handler, also without a
  // marker; both are alike up to the signal, so no patch can tell them apart. The previous
  // release's behaviour is kept (test/fixtures/histories/README.md, workflow-replay.test.ts).
  setHandler(usedSignal, (signal) => {
    const active = state.current;
    // The lookup offered this image; if it has ended or been replaced since, there is no use to record.
    if (!active || active.imageId !== signal?.imageId) return;
    // Lookups of several API processes may race past the interval; the first one records the use.
    if (state.usedWithin(signal.recordEveryMs)) return;
    state.touch();
    publish();
  });

  setHandler(
    linkPullRequestUpdate,
    async (pr) => {
      const linked: SnapshotState = { ...requireActive(), pullRequest: pr };
      state.amend(linked);
      publish();
      if (scopedToPullRequest) await refuseMergedLink(pr, linked.imageId);
      return state.current?.imageId === linked.imageId ? state.current : linked;
    },
    {
      validator: (pr) => {
        const problem = validatePullRequest(pr);
        if (problem) throw ApplicationFailure.nonRetryable(problem, ErrorType.invalidRequest);
        requireActive();
      },
    },
  );

  setHandler(mergedSignal, (signal) => {
    // A redelivered webhook must not end an image registered after the first delivery.
    if (!state.firstDelivery(signal?.deliveryId)) return;
    const pr = signal?.pullRequest;
    // Remembered even when it ends nothing now: a registration linked to it may be in flight.
    if (pr) rememberMerge(state.mergedPullRequests, pr);
    const message = pr ? `pull request ${pr.repository}#${pr.number} merged` : 'pull request merged';
    // The image set aside by a registration still being checked comes back if it is refused.
    if (asideMeant(signal?.mergedAt, (aside) => !pr || meantFor(aside, pr, signal?.match))) {
      state.endAside('merged', message);
    }
    const current = state.current;
    if (!current || state.happenedBeforeCurrent(signal?.mergedAt)) return;
    // Only the image the merge was meant for: not a newer one linked elsewhere or to nothing.
    if (scopedToPullRequest && pr && !meantFor(current, pr, signal?.match)) return;
    endCurrent('merged', message);
  });

  setHandler(invalidateSignal, (signal) => {
    const reason = String(signal?.reason ?? 'invalidated').slice(0, REASON_MAX_LENGTH);
    const meant = (image: SnapshotState) =>
      (!signal?.imageId || image.imageId === signal.imageId) &&
      (!signal?.pullRequest || meantFor(image, signal.pullRequest, signal.match));
    // An unscoped one is meant for the image set aside too: it may be current again.
    if (asideMeant(signal?.occurredAt, meant)) state.endAside('invalidated', reason);
    const current = state.current;
    if (!current || state.happenedBeforeCurrent(signal?.occurredAt)) return;
    if (!meant(current)) return;
    endCurrent('invalidated', reason);
  });

  setHandler(
    invalidateUpdate,
    (req) => {
      const ended = requireActive();
      endCurrent('invalidated', String(req?.reason ?? 'invalidated').slice(0, REASON_MAX_LENGTH));
      return state.latest(ended);
    },
    {
      validator: (req) => {
        const active = requireActive();
        if (req?.imageId && req.imageId !== active.imageId) {
          throw ApplicationFailure.nonRetryable(
            `image ${req.imageId} is not the current snapshot of ${projectId}/${workItemId} (the current one is ${active.imageId}); nothing was invalidated`,
            ErrorType.imageNotCurrent,
          );
        }
      },
    },
  );

  setHandler(evictSignal, (signal) => {
    const reason = String(signal?.reason ?? 'evicted').slice(0, REASON_MAX_LENGTH);
    if (asideMeant(undefined, (aside) => !signal?.imageId || aside.imageId === signal.imageId)) {
      state.endAside('evicted', reason);
    }
    // An eviction decided for an older image must not hit the image that replaced it.
    const current = state.current;
    if (signal?.imageId && current && current.imageId !== signal.imageId) return;
    endCurrent('evicted', reason);
  });

  setHandler(vanishedSignal, (signal) => {
    const aside = state.aside;
    if (aside && asideMeant(undefined, (a) => !signal?.imageId || a.imageId === signal.imageId)) {
      const text = signal?.message ?? `image ${aside.image} vanished from host ${aside.host}`;
      state.endAside('vanished', String(text).slice(0, REASON_MAX_LENGTH));
    }
    // From the reconciler, after a 404 on the image id; cleanup then finds nothing and completes.
    const current = state.current;
    if (!current || (signal?.imageId && current.imageId !== signal.imageId)) return;
    const message = signal?.message ?? `image ${current.image} vanished from host ${current.host}`;
    endCurrent('vanished', String(message).slice(0, REASON_MAX_LENGTH));
  });

  setHandler(stateQuery, () => state.view());

  //
  // Main loop
  //
  // Cleanup of images handed over by the previous run starts again from the top: every step is
  // idempotent, and an activity abandoned by continue-as-new may or may not have run.
  for (const image of state.retiring) startCleanup(image);
  publish();

  try {
    for (;;) {
      const active = state.current;
      if (active) {
        const remaining = Math.max(Date.parse(active.expiresAt) - Date.now(), 1);
        // The timer waits for this image's expiry: a recorded use that does not move it (a fixed
        // TTL, or a sliding one within its granule) leaves the timer alone.
        const moved = freeLookups
          ? () => state.current?.imageId !== active.imageId || state.current.expiresAt !== active.expiresAt
          : () => state.current !== active;
        const woke = await condition(() => moved() || continueAsNewNow(), remaining, {
          summary: ttlSummary(active),
        });
        if (!woke && !moved()) {
          endCurrent('expired', `TTL of ${active.ttlSeconds}s reached`);
        }
      } else {
        await condition(() => state.current !== null || state.drained() || continueAsNewNow());
        if (state.current === null && state.drained()) {
          await condition(allHandlersFinished);
          if (state.current === null && state.drained()) break;
        }
      }
      if (continueAsNewNow()) {
        await condition(() => state.pendingRegistrations === 0 && allHandlersFinished());
        await continueAsNew<typeof snapshotWorkflow>({
          projectId,
          workItemId,
          options,
          carry: state.carry(),
        });
      }
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    state.closing = true;
    await CancellationScope.nonCancellable(async () => {
      endCurrent('cancelled', 'the workflow was cancelled');
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

function chainTooDeep(layerDepth: number, maxLayerDepth: number): string | null {
  if (layerDepth < maxLayerDepth) return null;
  return (
    `not offered for reuse: the image has ${layerDepth} layers and snapshots from ${maxLayerDepth} on ` +
    '(SNAPKEEPER_MAX_LAYER_DEPTH) are not, since Docker refuses a commit past 125; ' +
    'start the next job from its base image and register that commit'
  );
}

function registrationFailure(err: unknown, req: RegisterRequest): ApplicationFailure {
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure) {
      return ApplicationFailure.nonRetryable(cause.message, cause.type ?? ErrorType.invalidRequest);
    }
    if (cause instanceof TimeoutFailure) {
      return ApplicationFailure.nonRetryable(
        `host ${req.host} did not answer: is a snapkeeper Docker worker running for it (task queue ${dockerTaskQueue(req.host)})?`,
        ErrorType.hostUnavailable,
      );
    }
  }
  return ApplicationFailure.nonRetryable(failureMessage(err), ErrorType.invalidRequest);
}
