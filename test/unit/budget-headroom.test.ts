import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { BudgetHeadroomDeps } from '../../src/activities/budget-headroom.js';
import { createBudgetHeadroom } from '../../src/activities/budget-headroom.js';
import { parseProjectPolicies } from '../../src/config/project-policy.js';
import { createLogger } from '../../src/logging/logger.js';
import type { BudgetMemo } from '../../src/contract/budget-types.js';
import { BUDGET_MEMO_KEY, budgetWorkflowId } from '../../src/contract/names.js';
import { FakeDocker } from './fake-docker.js';

/** A disk that is `percent` used, as statfs reports it. */
const diskAt = (percent: number) => async () => ({
  bsize: 1,
  blocks: 100,
  bfree: 100 - percent,
  bavail: 100 - percent,
});

/** A client whose budget workflow of host h1 answers describe with this memo (null: not running). */
function clientWith(memo: BudgetMemo | null, described: string[] = []): Client {
  const workflow = {
    getHandle: (id: string) => ({
      describe: async () => {
        described.push(id);
        if (!memo) throw new Error('workflow not found');
        return { status: { name: 'RUNNING' }, memo: { [BUDGET_MEMO_KEY]: memo } };
      },
    }),
  };
  return { workflow } as unknown as Client;
}

function headroom(overrides: Partial<BudgetHeadroomDeps>) {
  return createBudgetHeadroom({
    docker: new FakeDocker(),
    log: createLogger({ level: 'silent' }),
    hostId: 'h1',
    statfs: diskAt(10),
    ...overrides,
  });
}

const memo = (count: number, bytes = 0): BudgetMemo => ({ count, bytes, at: '2026-11-28T00:00:00.000Z' });
const image = { projectId: 'p1', sizeBytes: 100 };

describe('budget headroom of a registration', () => {
  it('without a client to read the budget, every registration waits for it', async () => {
    expect(await headroom({})(image)).toBe('near');
  });

  it('without count or byte limits only the disk matters, the budget is not asked, and need not count the image', async () => {
    const described: string[] = [];
    const client = clientWith(null, described);
    expect(await headroom({ client })(image)).toBe('uncounted');
    expect(await headroom({ client, statfs: diskAt(81) })(image)).toBe('near');
    expect(described).toEqual([]);
  });

  it('a count limit: far below 90% of it after the new image, near from there', async () => {
    const budget = { maxSnapshots: 10, diskHighPercent: 85, diskLowPercent: 80 };
    const described: string[] = [];
    expect(await headroom({ client: clientWith(memo(8), described), budget })(image)).toBe('far');
    expect(await headroom({ client: clientWith(memo(9)), budget })(image)).toBe('near');
    expect(described).toEqual([budgetWorkflowId('h1')]);
  });

  it('a byte limit counts the new image', async () => {
    const budget = { maxBytes: 1000, diskHighPercent: 85, diskLowPercent: 80 };
    expect(await headroom({ client: clientWith(memo(1, 800)), budget })(image)).toBe('far');
    expect(await headroom({ client: clientWith(memo(1, 801)), budget })(image)).toBe('near');
  });

  it('unknown totals (no budget running yet) and project limits mean waiting', async () => {
    const budget = { maxSnapshots: 10, diskHighPercent: 85, diskLowPercent: 80 };
    expect(await headroom({ client: clientWith(null), budget })(image)).toBe('near');
    const policies = parseProjectPolicies('projects:\n  p1:\n    maxSnapshots: 50\n');
    expect(await headroom({ client: clientWith(memo(0)), policies })(image)).toBe('near');
    expect(await headroom({ client: clientWith(memo(0)), policies })({ ...image, projectId: 'p2' })).toBe(
      'uncounted',
    );
  });
});
