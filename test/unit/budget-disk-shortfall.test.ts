// The budget says when the disk is over its high watermark and evicting all it may does not bring
// it below the low one (the kubelet's FreeDiskSpaceFailed): the plan's diskShortfall, what the
// Web UI details show, and the worker's metrics.
import { describe, expect, it } from 'vitest';
import type { BudgetDecision, BudgetEntry, BudgetLimits } from '../../src/contract/budget-types.js';
import { budgetDetails } from '../../src/workflows/budget/details.js';
import { planEvictions } from '../../src/workflows/budget/policy.js';
import { createWorkerMetrics } from '../../src/worker/worker-metrics.js';
import { budgetEntry as entry } from '../support/budget-entry.js';

const LIMITS: BudgetLimits = { diskHighPercent: 85, diskLowPercent: 80, projectMaxSnapshots: {} };

function plan(entries: BudgetEntry[], usedBytes: number, extra: { protectedWorkflowId?: string } = {}) {
  return planEvictions({
    hostId: 'h1',
    entries,
    limits: LIMITS,
    disk: { usedBytes, totalBytes: 100_000 },
    pendingBytes: 0,
    uniqueBytes: {},
    ...extra,
  });
}

describe('disk shortfall', () => {
  it('none when the evictions bring the disk below the low watermark', () => {
    const p = plan([entry('a', 6_000, 1), entry('b', 6_000, 2)], 90_000);
    expect(p.evictions.map((e) => e.imageId)).toEqual(['sha256:a', 'sha256:b']);
    expect(p.diskShortfall).toBeNull();
  });

  it('none below the high watermark, even over the low one', () => {
    expect(plan([], 84_000).diskShortfall).toBeNull();
  });

  it('nothing to evict at all: all of it is needed, nothing is freeable', () => {
    const p = plan([], 95_000);
    expect(p.evictions).toEqual([]);
    expect(p.diskShortfall).toEqual({ usedPercent: 95, neededBytes: 15_000, freeableBytes: 0 });
  });

  it('evicts what it may, and says how much that falls short', () => {
    const p = plan([entry('a', 2_000, 1), entry('b', 3_000, 2)], 95_000);
    expect(p.evictions.map((e) => e.imageId)).toEqual(['sha256:a', 'sha256:b']);
    expect(p.diskShortfall).toEqual({ usedPercent: 95, neededBytes: 15_000, freeableBytes: 5_000 });
  });

  it('the snapshot being admitted is not evictable', () => {
    const p = plan([entry('a', 20_000, 1)], 95_000, { protectedWorkflowId: 'snapshot:p:a' });
    expect(p.evictions).toEqual([]);
    expect(p.diskShortfall).toMatchObject({ freeableBytes: 0 });
  });
});

describe('disk shortfall, shown', () => {
  const decision = (diskShortfall?: BudgetDecision['diskShortfall']): BudgetDecision => ({
    at: new Date(0).toISOString(),
    trigger: 'check',
    workflowId: null,
    evicted: [],
    evictedCount: 0,
    usage: { snapshots: 0, bytes: 0, diskUsedPercent: 95, diskEstimatedPercent: 95 },
    limits: LIMITS,
    ...(diskShortfall ? { diskShortfall } : {}),
  });

  it('in the budget details of the Web UI', () => {
    const text = budgetDetails({
      hostId: 'h1',
      totals: { count: 0, bytes: 0, projectCounts: {} },
      lastDecision: decision({ usedPercent: 95, neededBytes: 15 * 1024 ** 2, freeableBytes: 0 }),
      evictionsTotal: 0,
      pendingRemovals: 0,
      scannedAt: null,
    });
    expect(text).toContain(
      '**disk pressure not relieved** (FreeDiskSpaceFailed): 15.0 MiB to free, only 0 B evictable',
    );
  });

  it('in the metrics: a gauge while it lasts, and a count of the decisions', async () => {
    const metrics = createWorkerMetrics();
    metrics.recordBudget('h1', decision({ usedPercent: 95, neededBytes: 15_000, freeableBytes: 0 }));
    metrics.recordBudget('h1', decision({ usedPercent: 95, neededBytes: 15_000, freeableBytes: 0 }));
    let text = await metrics.registry.metrics();
    expect(text).toContain('snapkeeper_budget_disk_pressure_unrelieved{host="h1"} 1');
    expect(text).toContain('snapkeeper_budget_free_disk_space_failed_total{host="h1"} 2');
    metrics.recordBudget('h1', decision());
    text = await metrics.registry.metrics();
    expect(text).toContain('snapkeeper_budget_disk_pressure_unrelieved{host="h1"} 0');
  });
});
