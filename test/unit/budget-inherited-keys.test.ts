// Project ids are input: a project named like a property of Object.prototype must be counted and
// limited like any other (issue 17: `maxSnapshots: 1` for a project named `constructor` kept all 3).
import { describe, expect, it } from 'vitest';
import { summarizeHostSnapshots } from '../../src/activities/budget-control-activities.js';
import type { BudgetEntry, BudgetLimits } from '../../src/contract/budget-types.js';
import type { SnapshotOwnerView } from '../../src/contract/reconcile-types.js';
import { parseProjectPolicies } from '../../src/config/project-policy.js';
import { BudgetLedger } from '../../src/workflows/budget/ledger.js';
import { planEvictions, totalsOf } from '../../src/workflows/budget/policy.js';

/** Names Object.prototype answers for; `__proto__` cannot be a project id, but the policy is pure. */
const INHERITED = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

function entries(projectId: string, n: number): BudgetEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    workflowId: `snapshot:${projectId}:w${i}`,
    projectId,
    imageId: `sha256:${projectId}-${i}`,
    sizeBytes: 100,
    createdAt: at(i),
    lastUsedAt: at(i),
  }));
}

/** Limits as they arrive in the workflow: through JSON, so a plain record again. */
function limitsFor(projectIds: string[], max: number): BudgetLimits {
  const projectMaxSnapshots = Object.fromEntries(projectIds.map((p) => [p, max]));
  return JSON.parse(
    JSON.stringify({ diskHighPercent: 85, diskLowPercent: 80, projectMaxSnapshots }),
  ) as BudgetLimits;
}

describe('records keyed by project id', () => {
  it.each(INHERITED)('the project limit holds for a project named %s (totals from the entries)', (p) => {
    const plan = planEvictions({
      hostId: 'h1',
      entries: entries(p, 3),
      limits: limitsFor([p], 1),
      disk: null,
      pendingBytes: 0,
      uniqueBytes: {},
    });
    expect(plan.evictions.map((e) => e.workflowId)).toEqual([`snapshot:${p}:w0`, `snapshot:${p}:w1`]);
    expect(plan.usage.snapshots).toBe(1);
  });

  it.each(INHERITED)('the project limit holds for a project named %s (totals carried as JSON)', (p) => {
    const all = entries(p, 3);
    const totals = JSON.parse(JSON.stringify(totalsOf(all))) as ReturnType<typeof totalsOf>;
    expect(totals.projectCounts[p]).toBe(3);
    const plan = planEvictions({
      hostId: 'h1',
      entries: all,
      totals,
      limits: limitsFor([p], 1),
      disk: null,
      pendingBytes: 0,
      uniqueBytes: {},
    });
    expect(plan.evictions).toHaveLength(2);
  });

  it('a limit of another project is not read for a project named constructor', () => {
    const plan = planEvictions({
      hostId: 'h1',
      entries: [...entries('constructor', 3), ...entries('other', 3)],
      limits: limitsFor(['other'], 1),
      disk: null,
      pendingBytes: 0,
      uniqueBytes: {},
    });
    expect(plan.evictions.map((e) => e.projectId)).toEqual(['other', 'other']);
  });

  it.each(INHERITED)('the ledger counts a project named %s, across continue-as-new', (p) => {
    const ledger = new BudgetLedger();
    for (const e of entries(p, 3)) expect(ledger.admit(e, at(10))).toBe('admitted');
    expect(Object.keys(ledger.totals.projectCounts)).toEqual([p]);
    expect(ledger.totals.projectCounts[p]).toBe(3);
    const next = new BudgetLedger(JSON.parse(JSON.stringify(ledger.toCarry())));
    expect(next.totals.projectCounts[p]).toBe(3);
    const first = entries(p, 1)[0] as BudgetEntry;
    expect(next.subtract(first, at(11))).toBe(true);
    expect(next.totals.projectCounts[p]).toBe(2);
  });

  it('a carry from before the fix (an inherited function plus one, a string) is not counted on', () => {
    const ledger = new BudgetLedger({
      totals: {
        count: 1,
        bytes: 100,
        projectCounts: { constructor: 'function Object() { [native code] }1' },
      },
    } as unknown as ConstructorParameters<typeof BudgetLedger>[0]);
    expect(ledger.totals.projectCounts.constructor).toBeUndefined();
    ledger.admit(entries('constructor', 1)[0] as BudgetEntry, at(10));
    expect(ledger.totals.projectCounts.constructor).toBe(1);
  });

  it('the replayed path (histories before the patch) still reads inherited keys as the old code did', () => {
    const ledger = new BudgetLedger(undefined, undefined, true);
    ledger.admit(entries('constructor', 1)[0] as BudgetEntry, at(10));
    expect(typeof ledger.totals.projectCounts.constructor).toBe('string');
  });

  it('a host scan counts a project named constructor', () => {
    const views = entries('constructor', 3).map((e): SnapshotOwnerView => ({
      workflowId: e.workflowId,
      status: 'running',
      images: [],
      current: { ...e, image: e.imageId, host: 'h1' },
      error: null,
    }));
    const scan = summarizeHostSnapshots('h1', views, 10);
    expect(scan.totals.projectCounts.constructor).toBe(3);
  });

  it('the policy file gives a project named constructor its own limit, and no other project one', () => {
    const policies = parseProjectPolicies(JSON.stringify({ projects: { constructor: { maxSnapshots: 1 } } }));
    expect(policies.forProject('constructor').maxSnapshots).toBe(1);
    expect(policies.forProject('toString').maxSnapshots).toBeUndefined();
    expect(policies.forProject('hasOwnProperty').enabled).toBe(true);
  });
});
