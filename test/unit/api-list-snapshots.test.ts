import { describe, expect, it } from 'vitest';
import { pullRequestQuery } from '../../src/service/find-snapshots-by-pull-request.js';
import {
  buildListQuery,
  decodeCursor,
  encodeCursor,
  toSnapshotSummary,
} from '../../src/service/list-snapshots.js';
import { InvalidListRequest, visibilityLiteral } from '../../src/service/visibility.js';
import { execution, state } from './api-fakes.js';

describe('visibility queries', () => {
  it('quotes values and refuses anything that could break out of a literal', () => {
    expect(visibilityLiteral('acme')).toBe("'acme'");
    for (const bad of ["a'b", 'a"b', 'a\\b', 'a\nb'])
      expect(() => visibilityLiteral(bad)).toThrow(InvalidListRequest);
  });

  it('refuses invalid filters even when called directly', () => {
    expect(() => buildListQuery({ projectId: "x' OR 1=1" })).toThrow(InvalidListRequest);
    expect(() => buildListQuery({ host: 'a b' })).toThrow(InvalidListRequest);
    expect(() => buildListQuery({ state: 'gone' as never })).toThrow(InvalidListRequest);
  });

  it('the pull-request query selects open snapshot workflows of that repository and number', () => {
    expect(pullRequestQuery({ repository: 'o/r', number: 5 })).toBe(
      "WorkflowType = 'snapshotWorkflow' AND ExecutionStatus = 'Running' AND SnapshotRepository = 'o/r' AND SnapshotPullRequest = 5",
    );
    expect(() => pullRequestQuery({ repository: "o/r' OR 'x", number: 5 })).toThrow();
    expect(() => pullRequestQuery({ repository: 'o/r', number: 1.5 })).toThrow();
  });
});

describe('cursors', () => {
  it('round-trip page tokens bound to their query; an empty token ends the listing', () => {
    const token = new Uint8Array([0, 255, 62, 63, 1]);
    const cursor = encodeCursor(token, 'q1') as string;
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Array.from(decodeCursor(cursor, 'q1') as Uint8Array)).toEqual(Array.from(token));
    expect(() => decodeCursor(cursor, 'q2')).toThrow(InvalidListRequest);
    expect(encodeCursor(new Uint8Array(), 'q1')).toBeNull();
    expect(encodeCursor(null, 'q1')).toBeNull();
    expect(decodeCursor('', 'q1')).toBeUndefined();
    expect(() => decodeCursor('a+b=', 'q1')).toThrow(InvalidListRequest);
    expect(() => decodeCursor(Buffer.from(token).toString('base64url'), 'q1')).toThrow(InvalidListRequest);
  });
});

describe('toSnapshotSummary', () => {
  it('reads every published search attribute; unindexed fields are null', () => {
    const s = state('org/p', 'w:1', {
      state: 'removal-blocked',
      sizeBytes: 99,
      pullRequest: { repository: 'o/r', number: 3 },
    });
    expect(toSnapshotSummary(execution(s, 1))).toEqual({
      projectId: 'org/p',
      workItemId: 'w:1',
      image: s.image,
      imageId: null,
      host: s.host,
      state: 'removal-blocked',
      createdAt: null,
      expiresAt: s.expiresAt,
      lastUsedAt: null,
      sizeBytes: 99,
      pullRequest: { repository: 'o/r', number: 3 },
      workflowId: 'snapshot:org%2Fp:w%3A1',
      workflowStatus: 'running',
    });
  });

  it('closed workflows carry their execution status', () => {
    expect(toSnapshotSummary(execution(state('p', 'w', { state: 'removed' }), 5))?.workflowStatus).toBe(
      'terminated',
    );
  });
});
