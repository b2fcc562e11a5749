// What a snapshot workflow shows outside itself: the memo (lookups read the current image there,
// through DescribeWorkflowExecution, without a worker), the search attributes (lists, the merge's
// search, the reconciler's owner check) and the Web UI's current details. Workflow code.
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { setCurrentDetails, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { SNAPSHOT_MEMO_KEY } from '../../contract/names.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../../contract/search-attribute-keys.js';
import type { SnapshotMemo } from '../../contract/snapshot-types.js';
import { snapshotDetails } from './details.js';
import type { SnapshotWorkflowState, WorkItem } from './state.js';

export class SnapshotPublisher {
  /** What was last published, so an unchanged upsert (still an event) is not repeated. */
  private published = { memo: '', attributes: '', details: '' };

  constructor(
    private readonly workItem: WorkItem,
    private readonly state: SnapshotWorkflowState,
    /** False for runs from before the memo (LOOKUPS_FROM_MEMO_PATCH): no memo, every upsert made. */
    private readonly lookupsFromMemo: boolean,
  ) {}

  /** Shows the state: memo (for lookups), search attributes, the Web UI's current details. */
  publish(): void {
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
    // An upsert of unchanged attributes is still an event; a recorded use changes none of them.
    const attributes = JSON.stringify(pairs);
    if (attributes !== this.published.attributes) {
      upsertSearchAttributes(pairs);
      this.published = { ...this.published, attributes };
    }
    if (details !== this.published.details) {
      setCurrentDetails(details);
      this.published = { ...this.published, details };
    }
  }
}
