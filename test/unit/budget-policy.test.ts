import { describe, expect, it } from 'vitest';
import type { BudgetEntry, BudgetLimits } from '../../src/contract/budget-types.js';
import { lruOrder } from '../../src/contract/budget-types.js';
import { planEvictions } from '../../src/workflows/budget/policy.js';

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

function entry(
  id: string,
  opts: Partial<BudgetEntry> & { used?: number; created?: number } = {},
): BudgetEntry {
  const created = opts.created ?? 0;
  return {
    workflowId: `snapshot:p:${id}`,
    projectId: opts.projectId ?? 'p',
    imageId: `sha256:${id}`,
    sizeBytes: opts.sizeBytes ?? 100,
    createdAt: at(created),
    lastUsedAt: at(opts.used ?? created),
  };
}

const NO_LIMITS: BudgetLimits = { diskHighPercent: 85, diskLowPercent: 80, projectMaxSnapshots: {} };

function plan(
  entries: BudgetEntry[],
  limits: Partial<BudgetLimits>,
  extra: Partial<Parameters<typeof planEvictions>[0]> = {},
) {
  return planEvictions({
    hostId: 'h1',
    entries,
    limits: { ...NO_LIMITS, ...limits },
    disk: null,
    pendingBytes: 0,
    uniqueBytes: {},
    ...extra,
  });
}

const evicted = (p: ReturnType<typeof planEvictions>) => p.evictions.map((e) => e.workflowId.split(':')[2]);

describe('budget policy', () => {
  it('orders by last use, then creation, then id', () => {
    const a = entry('a', { created: 1, used: 9 });
    const b = entry('b', { created: 5, used: 5 });
    const c = entry('c', { created: 2, used: 5 });
    const d = entry('d', { created: 2, used: 5 });
    expect([a, b, c, d].sort(lruOrder).map((e) => e.workflowId.split(':')[2])).toEqual(['c', 'd', 'b', 'a']);
  });

  it('evicts nothing within the limits', () => {
    const p = plan([entry('a'), entry('b')], { maxSnapshots: 2, maxBytes: 200 });
    expect(p.evictions).toEqual([]);
    expect(p.usage).toMatchObject({ snapshots: 2, bytes: 200 });
  });

  it('count: evicts exactly the excess, least recently used first (a touch counts, not creation)', () => {
    const entries = [
      entry('old-but-touched', { created: 0, used: 50 }),
      entry('second', { created: 10 }),
      entry('third', { created: 20 }),
      entry('new', { created: 30 }),
      entry('newest', { created: 40 }),
    ];
    const p = plan(entries, { maxSnapshots: 3 });
    expect(evicted(p)).toEqual(['second', 'third']);
    expect(p.evictions.every((e) => e.limit === 'count' && e.reason.startsWith('evicted: '))).toBe(true);
    expect(p.usage.snapshots).toBe(3);
  });

  it('never evicts the snapshot being admitted, even when it is the least recently used', () => {
    const entries = [
      entry('admitted', { created: 0 }),
      entry('b', { created: 1 }),
      entry('c', { created: 2 }),
    ];
    const p = plan(entries, { maxSnapshots: 2 }, { protectedWorkflowId: 'snapshot:p:admitted' });
    expect(evicted(p)).toEqual(['b']);
  });

  it('bytes: evicts the shortest least-recently-used prefix that fits', () => {
    const entries = [
      entry('a', { created: 0, sizeBytes: 100 }),
      entry('b', { created: 1, sizeBytes: 200 }),
      entry('c', { created: 2, sizeBytes: 300 }),
      entry('d', { created: 3, sizeBytes: 400 }),
    ];
    expect(evicted(plan(entries, { maxBytes: 700 }))).toEqual(['a', 'b']);
    expect(evicted(plan(entries, { maxBytes: 1000 }))).toEqual([]);
    expect(evicted(plan(entries, { maxBytes: 999 }))).toEqual(['a']);
    const p = plan(entries, { maxBytes: 600 });
    expect(evicted(p)).toEqual(['a', 'b', 'c']);
    expect(p.usage.bytes).toBe(400);
    expect(p.evictions[0]?.limit).toBe('bytes');
  });

  it('per-project limits evict within the project, and count toward the host limit', () => {
    const entries = [
      entry('x1', { projectId: 'x', created: 0 }),
      entry('y1', { projectId: 'y', created: 1 }),
      entry('x2', { projectId: 'x', created: 2 }),
      entry('x3', { projectId: 'x', created: 3 }),
    ];
    const p = plan(entries, { projectMaxSnapshots: { x: 2 }, maxSnapshots: 3 });
    // x1 goes for the project limit; that also brings the host to 3, so y1 stays.
    expect(evicted(p)).toEqual(['x1']);
    expect(p.evictions[0]).toMatchObject({ limit: 'project', projectId: 'x' });
    const tighter = plan(entries, { projectMaxSnapshots: { x: 1 }, maxSnapshots: 1 });
    expect(evicted(tighter)).toEqual(['x1', 'x2', 'y1']);
  });

  it('disk: nothing below the high watermark, even above the low one', () => {
    const p = plan([entry('a')], {}, { disk: { usedBytes: 84, totalBytes: 100 } });
    expect(p.evictions).toEqual([]);
    expect(p.diskOverHigh).toBe(false);
    expect(p.usage.diskUsedPercent).toBe(84);
  });

  it('disk: over the high watermark, evicts until the estimate falls below the low one', () => {
    const entries = [entry('a', { created: 0 }), entry('b', { created: 1 }), entry('c', { created: 2 })];
    const uniqueBytes = { 'sha256:a': 4_000, 'sha256:b': 3_000, 'sha256:c': 5_000 };
    const p = plan(entries, {}, { disk: { usedBytes: 90_000, totalBytes: 100_000 }, uniqueBytes });
    // 90% → a frees 4% → 86% → b frees 3% → 83% → c frees 5% → 78% < 80%.
    expect(evicted(p)).toEqual(['a', 'b', 'c']);
    expect(p.evictions.every((e) => e.limit === 'disk')).toBe(true);
    expect(p.usage.diskEstimatedPercent).toBeCloseTo(78);
    const lighter = plan(entries, {}, { disk: { usedBytes: 86_000, totalBytes: 100_000 }, uniqueBytes });
    expect(evicted(lighter)).toEqual(['a', 'b']);
  });

  it('disk: bytes already being freed by earlier evictions count as free (no over-eviction)', () => {
    const entries = [entry('a', { created: 0 }), entry('b', { created: 1 })];
    const p = plan(entries, {}, { disk: { usedBytes: 90_000, totalBytes: 100_000 }, pendingBytes: 11_000 });
    expect(p.evictions).toEqual([]);
    expect(p.usage.diskEstimatedPercent).toBeCloseTo(79);
  });

  it('disk: bytes freed by count evictions count too', () => {
    const entries = [entry('a', { created: 0, sizeBytes: 20_000 }), entry('b', { created: 1 })];
    const p = plan(entries, { maxSnapshots: 1 }, { disk: { usedBytes: 90_000, totalBytes: 100_000 } });
    expect(evicted(p)).toEqual(['a']);
    expect(p.evictions[0]?.limit).toBe('count');
  });

  it('stops when nothing is left to evict', () => {
    const p = plan([entry('only')], { maxBytes: 1 }, { protectedWorkflowId: 'snapshot:p:only' });
    expect(p.evictions).toEqual([]);
    const disk = plan([entry('a')], {}, { disk: { usedBytes: 99, totalBytes: 100 } });
    expect(evicted(disk)).toEqual(['a']);
  });
});
