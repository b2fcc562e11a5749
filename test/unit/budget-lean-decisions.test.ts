// What a budget decision asks of the outside (budget-lean-decisions, issue 19): a decision that
// evicts for a count limit with the disk below its high watermark measures the host once, not twice;
// a disk shortfall is concluded only after a full count of the host, since registrations far from
// every limit no longer tell the budget (the ledger trails them). The decision runs here against
// stand-ins for its activities: the lookups' real code, the host and visibility scripted.
import { describe, expect, it } from 'vitest';
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import type {
  BudgetEntry,
  BudgetFacts,
  BudgetLimits,
  DiskUsageFacts,
  HostScan,
} from '../../src/contract/budget-types.js';
import type { SnapshotOwnerView } from '../../src/contract/reconcile-types.js';
import { Decision } from '../../src/workflows/budget/decision.js';
import type { BudgetControl, BudgetHost } from '../../src/workflows/budget/host-lookups.js';
import { HostLookups } from '../../src/workflows/budget/host-lookups.js';
import { BudgetLedger } from '../../src/workflows/budget/ledger.js';
import { budgetEntry as entry } from '../support/budget-entry.js';

const HOST = 'h1';
const TOTAL = 100_000;

function running(e: BudgetEntry): SnapshotOwnerView {
  return {
    workflowId: e.workflowId,
    status: 'running',
    images: [{ imageId: e.imageId, image: e.imageId, host: HOST, role: 'current' }],
    current: { ...e, image: e.imageId, host: HOST },
  } as unknown as SnapshotOwnerView;
}

interface Script {
  limits: BudgetLimits;
  disk: DiskUsageFacts | null;
  /** What a full count of the host finds (visibility and the owners' answers). */
  onHost: BudgetEntry[];
}

/** A decision over this ledger, and the activities it called, by name. */
function decisionOf(ledger: BudgetLedger, script: Script, lean: boolean, protectedEntry: BudgetEntry) {
  const calls: string[] = [];
  const host = {
    budgetFacts: async (): Promise<BudgetFacts> => {
      calls.push('budgetFacts');
      return { limits: script.limits, disk: script.disk, pendingPresent: {}, uniqueBytes: {} };
    },
    recordBudgetDecision: async () => {
      calls.push('recordBudgetDecision');
    },
  } as unknown as BudgetHost;
  const control = {
    scanHostSnapshots: async (input: { coldLimit: number }): Promise<HostScan> => {
      calls.push('scanHostSnapshots');
      const coldest = [...script.onHost].sort((a, b) => a.lastUsedAt.localeCompare(b.lastUsedAt));
      return {
        totals: {
          count: coldest.length,
          bytes: coldest.reduce((n, e) => n + e.sizeBytes, 0),
          projectCounts: { p: coldest.length },
        },
        coldest: coldest.slice(0, input.coldLimit),
        threshold: null,
        unanswered: 0,
      };
    },
    describeSnapshotWorkflows: async (input: { workflowIds: string[] }) => {
      calls.push('describeSnapshotWorkflows');
      return script.onHost.filter((e) => input.workflowIds.includes(e.workflowId)).map(running);
    },
  } as unknown as ActivityInterfaceFor<BudgetControl>;
  const lookups = new HostLookups({
    hostId: HOST,
    ledger,
    host,
    control: control as unknown as BudgetControl,
    pendingExpiryMs: 600_000,
    ownKeys: true,
    scannedAt: null,
  });
  const decision = new Decision({ hostId: HOST, ledger, lookups, ownKeys: true, lean }, 'admit', {
    workflowId: protectedEntry.workflowId,
    projectId: protectedEntry.projectId,
  });
  return { decision, calls };
}

function admitted(...entries: BudgetEntry[]): BudgetLedger {
  const ledger = new BudgetLedger();
  for (const e of entries) ledger.admit({ ...e, replaces: null }, e.createdAt);
  return ledger;
}

describe('budget-lean-decisions', () => {
  const [a, b, c] = [entry('a', 1_000, 1), entry('b', 1_000, 2), entry('c', 1_000, 3)];
  const countLimit: Script = {
    limits: { maxSnapshots: 2, diskHighPercent: 85, diskLowPercent: 80, projectMaxSnapshots: {} },
    disk: { dataRoot: '/d', totalBytes: TOTAL, usedBytes: 10_000 },
    onHost: [a, b, c],
  };

  it('a count eviction with the disk far from its watermark measures the host once', async () => {
    const { decision, calls } = decisionOf(admitted(a, b, c), countLimit, true, c);
    await decision.plan(false);
    expect(decision.current.evictions.map((e) => e.workflowId)).toEqual([a.workflowId]);
    expect(calls).toEqual(['budgetFacts', 'describeSnapshotWorkflows']);
  });

  it('the old branch measured it twice, for the same plan', async () => {
    const { decision, calls } = decisionOf(admitted(a, b, c), countLimit, false, c);
    await decision.plan(false);
    expect(decision.current.evictions.map((e) => e.workflowId)).toEqual([a.workflowId]);
    expect(calls).toEqual(['budgetFacts', 'describeSnapshotWorkflows', 'budgetFacts']);
  });

  it('over the disk watermark it still measures again (what images on their way out free)', async () => {
    const [bigA, bigB, bigC] = [entry('a', 4_000, 1), entry('b', 4_000, 2), entry('c', 4_000, 3)];
    const pressure: Script = {
      limits: { diskHighPercent: 85, diskLowPercent: 80, projectMaxSnapshots: {} },
      disk: { dataRoot: '/d', totalBytes: TOTAL, usedBytes: 86_000 },
      onHost: [bigA, bigB, bigC],
    };
    const { decision, calls } = decisionOf(admitted(bigA, bigB, bigC), pressure, true, bigC);
    await decision.plan(false);
    expect(decision.current.evictions.map((e) => e.workflowId)).toEqual([a.workflowId, b.workflowId]);
    expect(calls.filter((n) => n === 'budgetFacts')).toHaveLength(2);
    expect(calls).not.toContain('scanHostSnapshots');
  });

  it('out of known candidates on a full disk, it counts the host before concluding a shortfall', async () => {
    // Only c (being admitted) is known: a and b registered far from every limit and told nothing.
    const [bigA, bigB, bigC] = [entry('a', 4_000, 1), entry('b', 4_000, 2), entry('c', 4_000, 3)];
    const full: Script = {
      limits: { diskHighPercent: 85, diskLowPercent: 80, projectMaxSnapshots: {} },
      disk: { dataRoot: '/d', totalBytes: TOTAL, usedBytes: 86_000 },
      onHost: [bigA, bigB, bigC],
    };
    const lean = decisionOf(admitted(bigC), full, true, bigC);
    await lean.decision.plan(false);
    expect(lean.calls).toContain('scanHostSnapshots');
    expect(lean.decision.current.evictions.map((e) => e.workflowId)).toEqual([a.workflowId, b.workflowId]);
    expect(lean.decision.current.diskShortfall).toBeNull();

    // The old branch says nothing is left to evict, while a and b fill the disk.
    const old = decisionOf(admitted(bigC), full, false, bigC);
    await old.decision.plan(false);
    expect(old.calls).not.toContain('scanHostSnapshots');
    expect(old.decision.current.evictions).toEqual([]);
    expect(old.decision.current.diskShortfall).not.toBeNull();
  });

  it('a real shortfall right after a full count does not count again', async () => {
    const full: Script = {
      limits: { diskHighPercent: 85, diskLowPercent: 80, projectMaxSnapshots: {} },
      disk: { dataRoot: '/d', totalBytes: TOTAL, usedBytes: 95_000 },
      onHost: [c],
    };
    const { decision, calls } = decisionOf(admitted(c), full, true, c);
    await decision.plan(true);
    expect(calls.filter((n) => n === 'scanHostSnapshots')).toHaveLength(1);
    expect(decision.current.diskShortfall).not.toBeNull();
  });
});
