// What a snapshot workflow shows outside itself: the memo (lookups read the current image there,
// through DescribeWorkflowExecution, without a worker), the search attributes (lists, the merge's
// search, the reconciler's owner check) and the Web UI's current details. Workflow code.
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { setCurrentDetails, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SNAPSHOT_MEMO_KEY } from '../../contract/names.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../../contract/search-attribute-keys.js';
import type { SnapshotMemo } from '../../contract/snapshot-types.js';
import { snapshotDetails } from './details.js';
import type { SnapshotWorkflowState, WorkItem } from './state.js';

export class SnapshotPublisher {
  /** What was last published, so an unchanged upsert (still an event) is not repeated. */
  private published = { memo: '', attributes: '', details: '' };
  /** A lean run's publication waiting for the end of the current stretch of workflow code. */
  private flushing = false;

  constructor(
    private readonly workItem: WorkItem,
    private readonly state: SnapshotWorkflowState,
    /** False for runs from before the memo (LOOKUPS_FROM_MEMO_PATCH): no memo, every upsert made. */
    private readonly lookupsFromMemo: boolean,
    /** LEAN_LIFECYCLE_PATCH: each upsert costs a billable action, so fewer of them (see publish). */
    private readonly lean = false,
  ) {
    if (lean) this.published.memo = memoAtStart();
  }

  /** Shows the state: memo (for lookups), search attributes, the Web UI's current details. */
  publish(): void {
    if (!this.lean) {
      this.publishNow();
      return;
    }
    // Several changes in one stretch of code (a replacement ends one image and accepts another; a
    // cleanup step's answer takes back its wait and records the removal) make one upsert of each
    // kind, with what they add up to: published once the code in flight has run (a microtask, in
    // the same workflow task, before its commands are sent, so nothing is shown later than before).
    if (this.flushing) return;
    this.flushing = true;
    void Promise.resolve().then(() => {
      this.flushing = false;
      this.publishNow();
    });
  }

  /**
   * The Web UI's current details only (not an event): for a recorded use that leaves the memo and
   * the search attributes as they are (SnapshotCore.publishUse). The memo keeps what it last
   * published, so the next publication carries the use with it.
   */
  publishDetailsOnly(): void {
    const image = this.state.publishedImage();
    if (!image) return;
    const details = snapshotDetails(this.state.publishedStatus(image), image, this.state.retiring);
    if (details !== this.published.details) {
      setCurrentDetails(details);
      this.published = { ...this.published, details };
    }
  }

  private publishNow(): void {
    const { state } = this;
    const current = state.current;
    if (this.lookupsFromMemo) {
      // Lookups read the current image from here (DescribeWorkflowExecution), without a worker.
      const memo = JSON.stringify(current);
      if (memo !== this.published.memo) {
        upsertMemo({ [SNAPSHOT_MEMO_KEY]: { current } satisfies SnapshotMemo });
        this.published = { ...this.published, memo };
      }
    }
    const image = state.publishedImage();
    if (!image) return;
    const status = state.publishedStatus(image);
    const pairs: SearchAttributeUpdatePair[] = [
      { key: SEARCH_ATTRIBUTE_KEYS.projectId, value: this.workItem.projectId },
      { key: SEARCH_ATTRIBUTE_KEYS.workItemId, value: this.workItem.workItemId },
      { key: SEARCH_ATTRIBUTE_KEYS.image, value: image.image },
      { key: SEARCH_ATTRIBUTE_KEYS.host, value: image.host },
      { key: SEARCH_ATTRIBUTE_KEYS.state, value: status },
      { key: SEARCH_ATTRIBUTE_KEYS.expiresAt, value: new Date(image.expiresAt) },
      { key: SEARCH_ATTRIBUTE_KEYS.sizeBytes, value: image.sizeBytes },
    ];
    // Cleared when the published image has no pull request, so a replacement without one is not found
    // (and ended) by the merge of its predecessor's pull request.
    pairs.push({ key: SEARCH_ATTRIBUTE_KEYS.repository, value: image.pullRequest?.repository ?? null });
    pairs.push({ key: SEARCH_ATTRIBUTE_KEYS.pullRequest, value: image.pullRequest?.number ?? null });
    const details = snapshotDetails(status, image, state.retiring);
    if (!this.lookupsFromMemo) {
      upsertSearchAttributes(pairs);
      setCurrentDetails(details);
      return;
    }
    if (details !== this.published.details) {
      setCurrentDetails(details);
      this.published = { ...this.published, details };
    }
    // A lean run leaves out the `invalidated` state of an image whose removal is under way: its
    // removal (or what blocks it, or a host that does not answer) follows within seconds and is
    // upserted then, so the attributes show `active` until then. Lookups are not misled: they read
    // the memo, which says at once that nothing is current; the state query and the details say
    // `invalidated`. An image whose removal was refused for good is no longer retiring: it shows.
    if (this.lean && !state.current && status === 'invalidated' && state.isRetiring(image.imageId)) return;
    // An upsert of unchanged attributes is still an event; a recorded use changes none of them.
    const attributes = JSON.stringify(pairs);
    if (attributes !== this.published.attributes) {
      upsertSearchAttributes(pairs);
      this.published = { ...this.published, attributes };
    }
  }
}

/**
 * The current image as the run's memo already shows it (what the start or a continue-as-new
 * carried over), as `publish` compares it. A memo without it reads as "nothing current": a lookup
 * then asks the workflow's state query, which answers the same, so a fresh run need not upsert
 * `{ current: null }` before anything is current (it did: one action per run for nothing).
 */
function memoAtStart(): string {
  const memo = workflowInfo().memo?.[SNAPSHOT_MEMO_KEY] as SnapshotMemo | undefined;
  return JSON.stringify(memo && 'current' in memo ? memo.current : null);
}
