// The client package keeps its own copy of the contract (packages/client/src/contract.ts) so it
// installs without the service. This test holds the copy to src/contract: the type checks below fail
// `npm run typecheck` when a shape drifts, and the runtime checks fail when a rule or a label does.
import * as client from '@snapkeeper/client';
import { describe, expect, it } from 'vitest';
import { commitComment } from '../../src/contract/image-references.js';
import * as limits from '../../src/contract/limits.js';
import * as names from '../../src/contract/names.js';
import type * as contract from '../../src/contract/snapshot-types.js';

/** true only when A and B are the same type (each assignable to the other, optional fields alike). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

// Each line fails the type check when the client's copy and the service's definition differ.
const shapes = {
  status: true satisfies Same<client.SnapshotStatus, contract.SnapshotStatus>,
  endReason: true satisfies Same<client.EndReason, contract.EndReason>,
  pullRequest: true satisfies Same<client.PullRequestRef, contract.PullRequestRef>,
  register: true satisfies Same<client.RegisterSnapshotBody, contract.RegisterSnapshotBody>,
  state: true satisfies Same<client.SnapshotState, contract.SnapshotState>,
  summary: true satisfies Same<client.SnapshotSummary, contract.SnapshotSummary>,
  page: true satisfies Same<client.SnapshotPage, contract.SnapshotPage>,
  outcome: true satisfies Same<client.RegisterOutcome, contract.RegisterOutcome>,
  result: true satisfies Same<client.RegisterResult, contract.RegisterResult>,
};

describe("the client package's copy of the contract", () => {
  it('has the same shapes (checked by the type check; listed here so none is dropped)', () => {
    expect(Object.values(shapes).every(Boolean)).toBe(true);
  });

  it('has the same id and image reference rules', () => {
    expect(client.ID_PATTERN.source).toBe(limits.ID_PATTERN.source);
    expect(client.IMAGE_REF_PATTERN.source).toBe(limits.IMAGE_REF_PATTERN.source);
    expect(client.IMAGE_REF_MAX_LENGTH).toBe(limits.IMAGE_REF_MAX_LENGTH);
  });

  it('labels and comments a commit as the service recognises it', () => {
    for (const key of [
      'LABEL_MANAGED',
      'LABEL_PROJECT',
      'LABEL_WORK_ITEM',
      'LABEL_COMMIT',
      'LABEL_REFERENCE',
    ] as const) {
      expect(client[key]).toBe(names[key]);
    }
    expect(client.managedLabels('org/p', 'w-1')).toEqual(names.managedLabels('org/p', 'w-1'));
    expect(client.commitComment('0123abcd')).toBe(commitComment('0123abcd'));
  });
});
