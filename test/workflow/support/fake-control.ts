// Scripted stand-ins for the control activities the snapshot workflow calls on the workflow queue:
// the budget admission (answers "nothing evicted") and the merge-record check of a pull request.
import type { BudgetControlActivities } from '../../../src/activities/budget-control-activities.js';
import type { PullRequestControlActivities } from '../../../src/activities/pull-request-activities.js';
import type { PullRequestRef } from '../../../src/contract/snapshot-types.js';
import type { AdmitRequest } from '../../../src/contract/budget-types.js';

export type SnapshotControlActivities = Pick<BudgetControlActivities, 'admitToBudget'> &
  Pick<PullRequestControlActivities, 'isPullRequestMerged'>;

const key = (pr: PullRequestRef) => `${pr.repository.toLowerCase()}#${pr.number}`;

export class FakeControl {
  readonly admissions: (AdmitRequest & { host: string })[] = [];
  readonly mergeChecks: PullRequestRef[] = [];
  private readonly merged = new Set<string>();

  /**
   * Runs before a merge check answers (after it was asked): a test can record the merge or send
   * the workflow a message while the workflow waits for this check.
   */
  beforeMergeAnswer: ((pr: PullRequestRef) => Promise<void> | void) | undefined;

  /** From now on the merge record of this pull request exists (its webhook arrived). */
  recordMerge(pr: PullRequestRef): void {
    this.merged.add(key(pr));
  }

  activities(): SnapshotControlActivities {
    return {
      admitToBudget: async (input) => {
        this.admissions.push(input);
        return {
          evicted: [],
          usage: { snapshots: 1, bytes: input.sizeBytes, diskUsedPercent: null, diskEstimatedPercent: null },
        };
      },
      isPullRequestMerged: async (pr) => {
        this.mergeChecks.push(pr);
        await this.beforeMergeAnswer?.(pr);
        return this.merged.has(key(pr));
      },
    };
  }
}
