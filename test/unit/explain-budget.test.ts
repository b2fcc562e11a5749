// explain's budget position (src/service/explain-budget.ts) says "it goes after k more
// registrations": checked here against the budget's own policy (planEvictions), by admitting new
// snapshots one by one until the policy evicts the image.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BudgetEntry, BudgetLimits, BudgetView } from '../../src/contract/budget-types.js';
import { budgetPosition } from '../../src/service/explain-budget.js';
import { planEvictions, totalsOf } from '../../src/workflows/budget/policy.js';

const T0 = Date.UTC(2026, 0, 1);
const at = (minute: number) => new Date(T0 + minute * 60_000).toISOString();

function entry(i: number, projectId: string, used: number): BudgetEntry {
  return {
    workflowId: `snapshot:${projectId}:w${i}`,
    projectId,
    imageId: `sha256:${i}`,
    sizeBytes: 100,
    createdAt: at(0),
    lastUsedAt: at(used),
  };
}

function view(entries: BudgetEntry[], limits: BudgetLimits, disk = 10): BudgetView {
  return {
    hostId: 'h1',
    entries,
    complete: true,
    totals: totalsOf(entries),
    pending: [],
    evictionsTotal: 0,
    lastDecision: {
      at: at(0),
      trigger: 'check',
      workflowId: null,
      evicted: [],
      usage: { snapshots: entries.length, bytes: 0, diskUsedPercent: disk, diskEstimatedPercent: disk },
      limits,
    },
  };
}

/** Admits new snapshots (of `projectId`, each the most recently used) until the policy evicts `target`. */
function admissionsUntilEvicted(
  start: BudgetEntry[],
  limits: BudgetLimits,
  target: string,
  projectId: string,
): number {
  let entries = [...start];
  for (let j = 1; j <= 200; j++) {
    const fresh = entry(1000 + j, projectId, 10_000 + j);
    entries.push(fresh);
    const plan = planEvictions({
      hostId: 'h1',
      entries,
      limits,
      disk: null,
      pendingBytes: 0,
      uniqueBytes: {},
      protectedWorkflowId: fresh.workflowId,
    });
    const gone = new Set(plan.evictions.map((e) => e.workflowId));
    if (gone.has(target)) return j;
    entries = entries.filter((e) => !gone.has(e.workflowId));
  }
  return Infinity;
}

const NO_LIMITS: BudgetLimits = { diskHighPercent: 85, diskLowPercent: 80, projectMaxSnapshots: {} };

describe('explain: budget position against the budget policy', () => {
  it('count limit: the policy evicts it at the registration explain names (0 = the next decision)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 15 }),
        fc.nat(),
        (uses, max, pick) => {
          const entries = uses.map((u, i) => entry(i, 'p', u));
          const target = entries[pick % entries.length] as BudgetEntry;
          const limits = { ...NO_LIMITS, maxSnapshots: max };
          const position = budgetPosition('budget:h1', view(entries, limits), target);
          const rule = position.rules.find((r) => r.limit === 'count');
          expect(rule?.registrationsBefore).not.toBeNull();
          const k = rule?.registrationsBefore as number;
          expect(admissionsUntilEvicted(entries, limits, target.workflowId, 'other')).toBe(Math.max(1, k));
          expect(position.next?.limit).toBe('count');
        },
      ),
      { numRuns: 200, seed: 21 },
    );
  });

  it('project limit: registrations of that project, among its own snapshots only', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 50 })), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 8 }),
        fc.nat(),
        (spec, max, pick) => {
          const entries = spec.map(([mine, u], i) => entry(i, mine ? 'p' : 'q', u));
          const mine = entries.filter((e) => e.projectId === 'p');
          if (mine.length === 0) return;
          const target = mine[pick % mine.length] as BudgetEntry;
          const limits = { ...NO_LIMITS, projectMaxSnapshots: { p: max } };
          const position = budgetPosition('budget:h1', view(entries, limits), target);
          const k = position.rules.find((r) => r.limit === 'project')?.registrationsBefore as number;
          expect(admissionsUntilEvicted(entries, limits, target.workflowId, 'p')).toBe(Math.max(1, k));
        },
      ),
      { numRuns: 200, seed: 21 },
    );
  });

  it('the rule that evicts first is named; a full disk is next only for the coldest', () => {
    const entries = [entry(0, 'p', 1), entry(1, 'p', 2), entry(2, 'p', 3)];
    const limits = { ...NO_LIMITS, maxSnapshots: 10, projectMaxSnapshots: { p: 4 } };
    const p = budgetPosition('budget:h1', view(entries, limits), entries[1] as BudgetEntry);
    expect(p.rank).toBe(2);
    // Project: 4 - 3 + 2 = 3; count: 10 - 3 + 2 = 9.
    expect(p.next).toMatchObject({ limit: 'project', registrationsBefore: 3 });
    const full = view(entries, NO_LIMITS, 90);
    expect(budgetPosition('budget:h1', full, entries[0] as BudgetEntry).next?.limit).toBe('disk');
    expect(budgetPosition('budget:h1', full, entries[1] as BudgetEntry).next).toBeNull();
  });

  it('a snapshot beyond the tracked coldest ones: a lower bound, said as such', () => {
    const entries = [entry(0, 'p', 1), entry(1, 'p', 2)];
    const beyond = (maxSnapshots: number) => {
      const v = { ...view(entries, { ...NO_LIMITS, maxSnapshots }), complete: false };
      v.totals = { ...v.totals, count: 50 };
      return budgetPosition('budget:h1', v, entry(7, 'p', 40));
    };
    const p = beyond(100);
    expect(p.rank).toBeNull();
    expect(p.sentence).toContain('not among the 2 least recently used of 50');
    // At least 3rd coldest, 50 room: at least 53 registrations.
    expect(p.next).toMatchObject({ limit: 'count', registrationsBefore: 53 });
    expect(p.next?.sentence).toContain('at least 53 more registration(s)');
    // Over the limit by 40: the next decision takes the 40 coldest, which may or may not reach it.
    const over = beyond(10);
    expect(over.rules[0]).toMatchObject({ limit: 'count', registrationsBefore: null, over: true });
    expect(over.rules[0]?.sentence).toContain('evicts the 40 least recently used, which may reach it');
    expect(over.next).toBeNull();
  });
});
