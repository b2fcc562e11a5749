// A registration: the host inspects the image (it must be this work item's), the image becomes
// current, the one it replaces ends, and the host's budget counts it. A registration linked to a
// pull request is also checked against that pull request's merge record (merge-guard.ts).
// Workflow code; the caller (keeper.ts) runs registrations one at a time.
import { ApplicationFailure, log } from '@temporalio/workflow';
import { ErrorType } from '../../contract/errors.js';
import { DEFAULT_TTL_SECONDS } from '../../contract/limits.js';
import type {
  ImageFacts,
  PullRequestRef,
  RegisterRequest,
  RegisterResult,
  SnapshotState,
} from '../../contract/snapshot-types.js';
import { mergeRemembered, mergeRecorded, rememberMerge } from '../pull-request/merge-guard.js';
import { targetedByPullRequest } from '../pull-request/match.js';
import {
  BUDGET_ADMISSION_BY_SIGNAL_PATCH,
  LINK_REACHES_ASIDE_PATCH,
  MERGED_LINK_ENDS_ASIDE_PATCH,
  REGISTRATION_CHECKED_WHERE_IT_ACTS_PATCH,
  REINSPECT_AFTER_CLEANUP_PATCH,
  UNSCOPED_INVALIDATION_REACHES_ASIDE_PATCH,
  usePatch,
} from '../shared/patches.js';
import { nowIso } from '../shared/workflow-helpers.js';
import { acceptedState } from './accepted-state.js';
import { admitToBudget, releaseFromBudget, signalAdmission } from './budget.js';
import type { SnapshotCore } from './core.js';
import { beingRemoved, mergedRefusal, registrationFailure, shuttingDown } from './refusals.js';

export class SnapshotRegistration {
  constructor(private readonly workflow: SnapshotCore) {}

  /** A registration without the merge check first (no pull request, or recorded before it). */
  async register(req: RegisterRequest): Promise<RegisterResult> {
    const { workflow } = this;
    const { state } = workflow;
    const facts = await this.inspect(req);
    this.refuseEndedMeanwhile(req, facts);
    const unchanged = this.registerSameImage(req, facts);
    if (unchanged) return unchanged;
    const now = nowIso();
    const ttlSeconds = req.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    const replaced = state.current;
    if (replaced) workflow.endCurrent('replaced', `replaced by ${req.image} (${facts.imageId})`);
    const accepted = acceptedState(workflow.workItem, req, facts, now, ttlSeconds);
    state.accept(accepted);
    workflow.publish();
    // Per-host budget; may evict other snapshots, never fails. Far from the host's limits the
    // registration answers at once and the budget counts the image afterwards.
    if (facts.budgetHeadroom && usePatch(BUDGET_ADMISSION_BY_SIGNAL_PATCH))
      signalAdmission(accepted, replaced, { facts, lean: workflow.lean });
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
  async registerChecked(req: RegisterRequest, pr: PullRequestRef): Promise<RegisterResult> {
    const { workflow } = this;
    const { state } = workflow;
    const facts = await this.inspect(req);
    this.refuseEndedMeanwhile(req, facts);
    const unchanged = this.registerSameImage(req, facts);
    if (unchanged) {
      await this.refuseMergedLink(pr, unchanged.snapshot.imageId);
      return unchanged;
    }
    const now = nowIso();
    const ttlSeconds = req.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    const displaced = state.current;
    if (displaced) state.setAside();
    const accepted = acceptedState(workflow.workItem, req, facts, now, ttlSeconds);
    state.accept(accepted);
    state.unadmitted = accepted.imageId;
    workflow.publish();
    let merged: boolean;
    try {
      merged = mergeRemembered(state.mergedPullRequests, pr) || (await mergeRecorded(pr));
    } finally {
      state.unadmitted = null;
    }
    const stillCurrent = state.current?.imageId === accepted.imageId;
    if (merged) {
      rememberMerge(state.mergedPullRequests, pr);
      if (stillCurrent) this.endRefused(pr);
      const ending = state.restoreAside();
      workflow.publish();
      if (ending) workflow.endCurrent(ending.reason, ending.message);
      else if (state.closing) workflow.endCurrent('cancelled', 'the workflow was cancelled');
      throw ApplicationFailure.nonRetryable(
        `pull request ${pr.repository}#${pr.number} has already merged and cannot keep a snapshot alive: ` +
          `the image registered for it (${accepted.imageId}) ended and is being removed` +
          (displaced ? `; ${displaced.imageId} stays the current snapshot` : ''),
        ErrorType.pullRequestMerged,
      );
    }
    const retired = state.retireAside('replaced', `replaced by ${req.image} (${facts.imageId})`);
    if (retired) {
      workflow.publish();
      log.info('snapshot ends', { imageId: retired.imageId, reason: 'replaced', message: retired.message });
      workflow.startCleanup(retired);
    }
    if (!stillCurrent) {
      // Ended while it was checked (an invalidation, a cancel): the budget never counted it, and
      // the image it replaced no longer counts either.
      if (retired && retired.host === accepted.host) releaseFromBudget(retired);
    } else if (facts.budgetHeadroom && usePatch(BUDGET_ADMISSION_BY_SIGNAL_PATCH))
      signalAdmission(accepted, retired, { facts, lean: workflow.lean });
    else await admitToBudget(accepted, retired);
    return { outcome: displaced ? 'replaced' : 'created', snapshot: accepted };
  }

  /**
   * After a link became visible (published), a merge that was already recorded ends the image at
   * once and the caller gets 409; see merge-guard.ts for why this order closes the race.
   */
  async refuseMergedLink(pr: PullRequestRef, imageId: string): Promise<void> {
    const { workflow } = this;
    const { state } = workflow;
    if (!mergeRemembered(state.mergedPullRequests, pr) && !(await mergeRecorded(pr))) return;
    rememberMerge(state.mergedPullRequests, pr);
    const current = state.current;
    const message = `pull request ${pr.repository}#${pr.number} had already merged when it was linked`;
    const targeted = !!current && targetedByPullRequest(current, pr, 'link');
    // Another image than the one the link amended carries it when a refused registration gave back
    // the image it had set aside, which the link reached there (linkAside) before this check answered.
    const ends = targeted && (current?.imageId === imageId || usePatch(LINK_REACHES_ASIDE_PATCH));
    if (ends) workflow.endCurrent('merged', message);
    if (this.endsAside(pr, imageId, ends)) {
      // The image a registration still being checked has set aside carries this link: it ends
      // either way (replaced if that registration is accepted, merged if it is refused and gives
      // it back).
      state.endAside('merged', message);
      throw mergedRefusal(pr, true);
    }
    throw mergedRefusal(pr, ends);
  }

  /**
   * Whether the image set aside by a registration still being checked carries this merged link:
   * the link amended it before that registration set it aside (a link checked across the
   * registration's start), or reached it while it was aside (linkAside). Runs recorded before
   * these patches let the refused registration give it back, linked to the merged pull request.
   */
  private endsAside(pr: PullRequestRef, imageId: string, endedCurrent: boolean): boolean {
    const aside = this.workflow.state.aside;
    if (!aside || !targetedByPullRequest(aside, pr, 'link')) return false;
    if (!endedCurrent && aside.imageId === imageId) return usePatch(MERGED_LINK_ENDS_ASIDE_PATCH);
    return usePatch(LINK_REACHES_ASIDE_PATCH);
  }

  /**
   * A link made while a registration is being checked amends the image being checked, which
   * ends if that registration is refused; the link names no image, it is meant for the work
   * item's snapshot, and that is the image set aside once the registration is refused. So the
   * image set aside carries the link too (and ends with its merge). Runs recorded before the
   * patch gave the image set aside back without the link, which then ended nothing.
   */
  linkAside(pr: PullRequestRef): void {
    const { state } = this.workflow;
    if (!state.aside || !usePatch(LINK_REACHES_ASIDE_PATCH)) return;
    state.aside = { ...state.aside, pullRequest: pr };
  }

  /**
   * An operator's invalidation that names no image means the work item's snapshot, as the
   * unscoped invalidate signal does: the image a registration still being checked has set aside
   * ends too if that registration is refused. Runs recorded before the patch gave it back.
   */
  invalidateAside(reason: string): void {
    const { state } = this.workflow;
    if (!state.aside || !usePatch(UNSCOPED_INVALIDATION_REACHES_ASIDE_PATCH)) return;
    state.endAside('invalidated', reason);
  }

  /** The image of a registration refused by its merged pull request ends, never counted by the budget. */
  private endRefused(pr: PullRequestRef): void {
    const ended = this.workflow.state.end(
      'merged',
      `pull request ${pr.repository}#${pr.number} had already merged when it was linked`,
    );
    if (ended) {
      log.info('snapshot ends', { imageId: ended.imageId, reason: 'merged', message: ended.message });
      this.workflow.startCleanup(ended);
    }
  }

  private async inspect(req: RegisterRequest): Promise<ImageFacts> {
    const { workflow } = this;
    const { state } = workflow;
    const held = new Set([
      ...(state.current ? [state.current.imageId] : []),
      ...state.retiring.map((r) => r.imageId),
    ]);
    let facts = await this.inspectOnHost(req);
    // An image this run held when the host was asked, whose cleanup finished before the answer
    // came: the answer may describe it from before its removal (the isRetiring check below only
    // sees a cleanup still under way). The host is asked again, and answers what is there now.
    const left =
      held.has(facts.imageId) && state.current?.imageId !== facts.imageId && !state.isRetiring(facts.imageId);
    if (left && usePatch(REINSPECT_AFTER_CLEANUP_PATCH)) facts = await this.inspectOnHost(req);
    if (workflow.state.closing) throw shuttingDown();
    if (workflow.state.isRetiring(facts.imageId)) throw beingRemoved(req.image, facts.imageId);
    return facts;
  }

  /**
   * inspect() checked its answer, but the registration acts on it only once its own await has
   * resumed, and in between other handlers of the same workflow activation go on: a link's merge
   * check answered in the same task ends this very image and starts its removal, or a cancel
   * arrives. So the same checks again, right where the registration acts. Runs recorded before the
   * patch accepted the image then: current, while its removal took it off the disk.
   */
  private refuseEndedMeanwhile(req: RegisterRequest, facts: ImageFacts): void {
    const { state } = this.workflow;
    if (!state.closing && !state.isRetiring(facts.imageId)) return;
    if (!usePatch(REGISTRATION_CHECKED_WHERE_IT_ACTS_PATCH)) return;
    if (state.closing) throw shuttingDown();
    throw beingRemoved(req.image, facts.imageId);
  }

  /** Asks the host for the image's facts; a refusal of the host is the registration's. */
  private async inspectOnHost(req: RegisterRequest): Promise<ImageFacts> {
    const { workflow } = this;
    try {
      return await workflow
        .registrationActivities(req.host)
        .inspectSnapshotImage.executeWithOptions({ summary: `inspect ${req.image} on ${req.host}` }, [
          { ...workflow.workItem, image: req.image },
        ]);
    } catch (err) {
      throw registrationFailure(err, req);
    }
  }

  /** The image registered is the current one: the links and references only (unchanged). */
  private registerSameImage(req: RegisterRequest, facts: ImageFacts): RegisterResult | null {
    const { workflow } = this;
    const current = workflow.state.current;
    if (!current || current.imageId !== facts.imageId || current.host !== req.host) return null;
    const known = current.references ?? [];
    const references = [...known, ...facts.references.filter((r) => !known.includes(r))];
    if ((req.pullRequest && !current.pullRequest) || references.length !== known.length) {
      workflow.state.amend({
        ...current,
        pullRequest: current.pullRequest ?? req.pullRequest ?? null,
        references,
      });
      workflow.publish();
    }
    return { outcome: 'unchanged', snapshot: workflow.state.current as SnapshotState };
  }
}
