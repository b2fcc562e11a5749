// The names in src/contract are what running workflows, schedules and users' scripts carry: these
// tests pin them, and check that the tables derived from one another agree.
import { readFile } from 'node:fs/promises';
import { SearchAttributeType } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  WORKFLOW_TYPES,
  budgetWorkflowId,
  closedPullRequestWorkflowId,
  hostOfReconcileSchedule,
  mergedPullRequestWorkflowId,
  reconcileScheduleId,
} from '../../src/contract/names.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/contract/search-attribute-keys.js';
import { SEARCH_ATTRIBUTES, SEARCH_ATTRIBUTE_TYPES } from '../../src/contract/search-attributes.js';

describe('contract', () => {
  it('workflow types are the names of the exported workflow functions', async () => {
    const sources = await Promise.all(
      [
        'snapshot/workflow',
        'budget/workflow',
        'reconcile/workflow',
        'pull-request/workflow',
        'lease/workflow',
      ].map((f) => readFile(new URL(`../../src/workflows/${f}.ts`, import.meta.url), 'utf8')),
    );
    const exported = new Set(
      sources.flatMap((s) => [...s.matchAll(/^export async function (\w+)\(/gm)].map((m) => m[1])),
    );
    expect(Object.values(WORKFLOW_TYPES).filter((t) => !exported.has(t))).toEqual([]);
    expect(WORKFLOW_TYPES).toEqual({
      snapshot: 'snapshotWorkflow',
      budget: 'budgetWorkflow',
      reconcile: 'reconcileWorkflow',
      reconcileHost: 'reconcileHostWorkflow',
      pullRequestClosed: 'pullRequestClosedWorkflow',
      lease: 'leaseWorkflow',
    });
  });

  it('search attributes keep their names and types, and the typed keys match them', () => {
    expect(SEARCH_ATTRIBUTE_TYPES).toEqual({
      SnapshotProjectId: 'Keyword',
      SnapshotWorkItemId: 'Keyword',
      SnapshotImage: 'Keyword',
      SnapshotHost: 'Keyword',
      SnapshotState: 'Keyword',
      SnapshotExpiresAt: 'Datetime',
      SnapshotSizeBytes: 'Int',
      SnapshotRepository: 'Keyword',
      SnapshotPullRequest: 'Int',
    });
    const temporalType = {
      Keyword: SearchAttributeType.KEYWORD,
      Datetime: SearchAttributeType.DATETIME,
      Int: SearchAttributeType.INT,
    };
    for (const [field, name] of Object.entries(SEARCH_ATTRIBUTES)) {
      const key = SEARCH_ATTRIBUTE_KEYS[field as keyof typeof SEARCH_ATTRIBUTES];
      expect(key.name).toBe(name);
      expect(key.type).toBe(temporalType[SEARCH_ATTRIBUTE_TYPES[name] as keyof typeof temporalType]);
    }
  });

  it('upkeep and pull request ids keep their form', () => {
    expect(budgetWorkflowId('h1')).toBe('budget:h1');
    expect(reconcileScheduleId('h1')).toBe('snapkeeper-reconcile-h1');
    expect(hostOfReconcileSchedule('snapkeeper-reconcile-h1')).toBe('h1');
    expect(hostOfReconcileSchedule('other')).toBeUndefined();
    const pr = { repository: 'Acme/App', number: 17 };
    expect(mergedPullRequestWorkflowId(pr)).toBe('pull-request:acme%2Fapp:17:merged');
    expect(closedPullRequestWorkflowId(pr, 'd-1')).toBe('pull-request:acme%2Fapp:17:closed:d-1');
  });
});
