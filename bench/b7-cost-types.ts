// The shape of B7's figures, as the JSON of a run keeps them (bench/results/).
import type { CostTally } from './b7-history-cost.js';

/** The ways a snapshot ends that B7 counts. */
export type LifecycleKind = 'ttl' | 'merge' | 'invalidate' | 'evict' | 'replace';

/** Which part of snapkeeper an event belongs to (by its workflow's type). */
export type CostRole = 'snapshot' | 'pull request' | 'budget' | 'reconcile' | 'floor' | string;

export interface KindCost {
  lifecycles: number;
  lookups: number;
  /** `used` signals and `touch` updates in the counted snapshot histories. */
  lookupsRecorded: number;
  total: CostTally;
  perLifecycle: CostTally;
  /** Per lifecycle, by role. */
  byRole: Record<CostRole, CostTally>;
  /** The same in total (what byRole divides). */
  byRoleTotal: Record<CostRole, CostTally>;
  /**
   * Billable actions by what they are for (`activity inspectSnapshotImage`, `signal used`…), per
   * role: per lifecycle, and in total. Absent in runs before the names were recorded.
   */
  actionsByName?: Record<CostRole, Record<string, number>>;
  actionsByNameTotal?: Record<CostRole, Record<string, number>>;
  /** Workflow runs counted whole, and runs started meanwhile that no driver named. */
  runsCounted: number;
  unexpectedRuns: string[];
}

export interface B7Cost {
  kinds: Partial<Record<LifecycleKind | 'ttl+merge+invalidate', KindCost>>;
  floor: { workflows: number; perWorkflow: CostTally };
  reconcile: {
    runs: number;
    perRun: CostTally;
    byRole: Record<CostRole, CostTally>;
    /** Billable actions by what they are for, per run. */
    actionsByName?: Record<CostRole, Record<string, number>>;
    perHostHour: { actions: number; events: number; runsPerHour: number };
    openSnapshotsOnHost: number;
  };
}
