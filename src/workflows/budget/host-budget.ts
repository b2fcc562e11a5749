// The behaviour of a host's budget entity: what each message does to the ledger, when a decision
// is due, and what operators see (memo, current details). The workflow function (workflow.ts)
// only wires messages to these methods, one at a time, and continues as new.
import { ApplicationFailure, log, setCurrentDetails, upsertMemo } from '@temporalio/workflow';
import { formatBytes } from './policy.js';
import type { BudgetCarry } from '../../contract/budget-workflow-input.js';
import type {
  AdmitRequest,
  AdmitResult,
  BudgetDecision,
  BudgetMemo,
  BudgetUsage,
  BudgetView,
  ReleaseSignal,
} from '../../contract/budget-types.js';
import { ErrorType } from '../../contract/errors.js';
import { ownValue } from '../../contract/keyed-records.js';
import { BUDGET_MEMO_KEY } from '../../contract/names.js';
import { BUDGET_DISK_SHORTFALL_PATCH, usePatch } from '../shared/patches.js';
import { nowIso } from '../shared/workflow-helpers.js';
import type { DecisionTrigger, ProtectedEntry } from './decision.js';
import { Decision } from './decision.js';
import { budgetDetails } from './details.js';
import type { BudgetControl, BudgetHost } from './host-lookups.js';
import { HostLookups } from './host-lookups.js';
import { BudgetLedger } from './ledger.js';

export interface HostBudgetDeps {
  hostId: string;
  carry: BudgetCarry | undefined;
  coldSetLimit: number | undefined;
  pendingExpiryMs: number;
  host: BudgetHost;
  control: BudgetControl;
  /** budget-own-keys: records keyed by project id are read by their own keys only. */
  ownKeys: boolean;
  /** budget-totals-in-memo: the totals are published in the memo. */
  totalsInMemo: boolean;
  /** budget-lean-decisions: see decision.ts. */
  lean?: boolean;
}

export class HostBudget {
  private readonly ledger: BudgetLedger;
  private readonly lookups: HostLookups;
  private evictionsTotal: number;
  private lastDecision: BudgetDecision | null;
  /** The totals last written to the memo, so an unchanged memo is not written again. */
  private memoTotals = '';

  constructor(private readonly deps: HostBudgetDeps) {
    const { carry, ownKeys } = deps;
    this.ledger = new BudgetLedger(
      carry?.ledger ??
        (carry?.entries ? { entries: carry.entries, pending: carry.pending ?? [] } : undefined),
      deps.coldSetLimit,
      !ownKeys,
    );
    this.lookups = new HostLookups({ ...deps, ledger: this.ledger, scannedAt: carry?.scannedAt ?? null });
    this.evictionsTotal = carry?.evictionsTotal ?? 0;
    this.lastDecision = carry?.lastDecision ?? null;
  }

  /** The admit update: counts the snapshot, then decides whether others must go for it. */
  async admit(req: AdmitRequest): Promise<AdmitResult> {
    const outcome = this.ledger.admit(req, nowIso());
    if (outcome === 'older' || outcome === 'already-gone') return { evicted: [], usage: this.usageNow() };
    try {
      return await this.decide('admit', req, false);
    } catch (err) {
      throw this.failure(err);
    }
  }

  /**
   * Registrations far from every limit tell the budget afterwards, off their path. The budget
   * decides only when its totals crossed a limit meanwhile (registrations racing past the
   * headroom); otherwise it just counts.
   */
  async admitted(req: AdmitRequest): Promise<void> {
    const outcome = this.ledger.admit(req, nowIso());
    if (outcome === 'older' || outcome === 'already-gone' || !this.overKnownLimits(req.projectId)) {
      this.publish();
      return;
    }
    try {
      await this.decide('admit', req, false);
    } catch (err) {
      log.warn('budget decision after an admission failed; the next check decides', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  release(signal: ReleaseSignal): void {
    this.ledger.release(signal, nowIso());
    if (this.deps.totalsInMemo) this.publish();
  }

  /** The check update: decides against every limit (`discover`: counts the host again first). */
  async check(discover: boolean): Promise<AdmitResult> {
    try {
      return await this.decide('check', null, discover);
    } catch (err) {
      throw this.failure(err);
    }
  }

  view(): BudgetView {
    return {
      hostId: this.deps.hostId,
      entries: this.ledger.coldest(),
      complete: this.ledger.complete,
      totals: this.ledger.totals,
      pending: this.ledger.pending,
      evictionsTotal: this.evictionsTotal,
      lastDecision: this.lastDecision,
    };
  }

  toCarry(): BudgetCarry {
    const { evictionsTotal, lastDecision } = this;
    return { ledger: this.ledger.toCarry(), evictionsTotal, lastDecision, scannedAt: this.lookups.scannedAt };
  }

  /** Shows the totals in the memo (what lookups read) and the Web UI's current details. */
  publish(): void {
    if (this.deps.totalsInMemo) {
      const { count, bytes } = this.ledger.totals;
      const totals = `${count}/${bytes}`;
      if (totals !== this.memoTotals) {
        upsertMemo({ [BUDGET_MEMO_KEY]: { count, bytes, at: nowIso() } satisfies BudgetMemo });
        this.memoTotals = totals;
      }
    }
    setCurrentDetails(
      budgetDetails({
        hostId: this.deps.hostId,
        totals: this.ledger.totals,
        lastDecision: this.lastDecision,
        evictionsTotal: this.evictionsTotal,
        pendingRemovals: this.ledger.pending.length,
        scannedAt: this.lookups.scannedAt,
      }),
    );
  }

  private async decide(
    trigger: DecisionTrigger,
    protectedEntry: ProtectedEntry | null,
    discover: boolean,
  ): Promise<AdmitResult> {
    const { hostId, ownKeys, host } = this.deps;
    const run = new Decision(
      {
        hostId,
        ledger: this.ledger,
        lookups: this.lookups,
        ownKeys,
        lean: this.deps.lean ?? false,
        byteLimit: this.lastDecision?.limits?.maxBytes !== undefined,
      },
      trigger,
      protectedEntry,
    );
    await run.plan(discover);
    const { evicted, evictedCount } = await run.evict();
    this.evictionsTotal += evictedCount;
    const shortfall = run.current.diskShortfall;
    // Asked only when there is something to say (a shortfall, or the end of the last one), so a
    // history without either records no marker. The end is told too: it clears the host's metric.
    const tellShortfall =
      (shortfall !== null || this.lastDecision?.diskShortfall !== undefined) &&
      usePatch(BUDGET_DISK_SHORTFALL_PATCH);
    const decision: BudgetDecision = {
      at: nowIso(),
      trigger,
      workflowId: protectedEntry?.workflowId ?? null,
      evicted,
      evictedCount,
      usage: run.current.usage,
      limits: run.facts.limits,
      ...(tellShortfall && shortfall ? { diskShortfall: shortfall } : {}),
    };
    if (tellShortfall && shortfall) {
      log.warn('FreeDiskSpaceFailed: the disk stays over its watermarks with nothing left to evict', {
        hostId,
        usedPercent: shortfall.usedPercent,
        needed: formatBytes(shortfall.neededBytes),
        freeable: formatBytes(shortfall.freeableBytes),
      });
    }
    this.lastDecision = decision;
    this.publish();
    if (evictedCount > 0 || trigger === 'check' || tellShortfall) {
      await host.recordBudgetDecision({ host: hostId, decision });
    }
    return { evicted, evictedCount, usage: run.current.usage };
  }

  private usageNow(): BudgetUsage {
    return {
      snapshots: this.ledger.totals.count,
      bytes: this.ledger.totals.bytes,
      diskUsedPercent: this.lastDecision?.usage.diskUsedPercent ?? null,
      diskEstimatedPercent: this.lastDecision?.usage.diskEstimatedPercent ?? null,
    };
  }

  /** Whether the totals crossed a limit known from the last decision (or none is known yet). */
  private overKnownLimits(projectId: string): boolean {
    const limits = this.lastDecision?.limits;
    if (!limits) return true;
    const own = <T>(record: Record<string, T>, key: string) =>
      this.deps.ownKeys ? ownValue(record, key) : record[key];
    const t = this.ledger.totals;
    const projectMax = own(limits.projectMaxSnapshots, projectId);
    return (
      (limits.maxSnapshots !== undefined && t.count > limits.maxSnapshots) ||
      (limits.maxBytes !== undefined && t.bytes > limits.maxBytes) ||
      (projectMax !== undefined && (own(t.projectCounts, projectId) ?? 0) > projectMax)
    );
  }

  private failure(err: unknown): ApplicationFailure {
    if (err instanceof ApplicationFailure) return err;
    const message =
      err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    return ApplicationFailure.retryable(
      `budget decision of host ${this.deps.hostId} failed: ${message}`,
      ErrorType.hostUnavailable,
    );
  }
}
