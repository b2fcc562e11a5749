// The budget workflow's input, options and continue-as-new carry: what the worker, the service
// (typed update-with-start) and the workflow itself agree on. Here, in the contract, so a caller
// names the workflow's signature without importing workflow code (and no import cycle runs
// activities → service → workflows → activities). Pure types: bundled into workflows.
import type { BudgetDecision, BudgetEntry, BudgetTotals, LruKey, PendingRemoval } from './budget-types.js';

export interface BudgetWorkflowOptions {
  /** Continue-as-new once the history holds this many events (or when the server suggests it). */
  continueAsNewAfterEvents?: number;
  /** An evicted image still on disk after this long no longer counts as about to be freed. */
  pendingExpirySeconds?: number;
  /** Snapshots known one by one (the least recently used); tests shrink it to exercise scans. */
  coldSetLimit?: number;
}

/** The budget ledger as one run hands it to the next: totals and the bounded sets it remembers. */
export interface LedgerCarry {
  totals: BudgetTotals;
  cold: BudgetEntry[];
  threshold: LruKey | null;
  admitted: string[];
  subtracted: string[];
  pending: PendingRemoval[];
}

/**
 * What one run hands the next on continue-as-new: the ledger (bounded: totals, a few hundred
 * entries, a few thousand short keys) and the last decision, whatever the host holds.
 */
export interface BudgetCarry {
  ledger?: LedgerCarry;
  /** Runs from before the ledger carried every entry; still read, never written. */
  entries?: BudgetEntry[];
  pending?: PendingRemoval[];
  evictionsTotal: number;
  lastDecision: BudgetDecision | null;
  scannedAt?: string | null;
}

export interface BudgetWorkflowInput {
  hostId: string;
  options?: BudgetWorkflowOptions;
  carry?: BudgetCarry;
}

/** The signature of `budgetWorkflow` (WORKFLOW_TYPES.budget), for typed starts by name. */
export type BudgetWorkflowFunction = (input: BudgetWorkflowInput) => Promise<void>;
