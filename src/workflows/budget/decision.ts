// One decision of a host's budget: plan on fresh facts (asking the victims' owners what they hold
// now, counting the host again when the known snapshots run out), then evict, round after round,
// until the plan holds. The host budget (host-budget.ts) records and publishes the outcome.
import { getExternalWorkflowHandle, log } from '@temporalio/workflow';
import type { BudgetFacts, Eviction } from '../../contract/budget-types.js';
import { imageKey } from '../../contract/budget-types.js';
import { ownValue } from '../../contract/keyed-records.js';
import { evictSignal } from '../../contract/messages.js';
import { BUDGET_TRUE_BYTES_PATCH, usePatch } from '../shared/patches.js';
import { nowIso } from '../shared/workflow-helpers.js';
import type { HostLookups } from './host-lookups.js';
import type { BudgetLedger } from './ledger.js';
import type { Plan } from './policy.js';
import { planEvictions } from './policy.js';

const MAX_EVICTION_ROUNDS = 5;
const MAX_PLAN_ROUNDS = 8;
/** Evictions listed in a decision and in the admission's answer; the count is exact. */
const DECISION_LIST_LIMIT = 50;
/** Under disk pressure, what this many of the coldest would free is measured (an inspect each). */
const MEASURED_CANDIDATES = 100;
/** A shortfall counts the host again first, unless its last full count is this recent (ms). */
const SHORTFALL_RECOUNT_AFTER_MS = 60_000;

export type DecisionTrigger = 'admit' | 'check';

/** The snapshot being admitted: never evicted by its own admission. */
export interface ProtectedEntry {
  workflowId: string;
  projectId: string;
}

export interface DecisionContext {
  hostId: string;
  ledger: BudgetLedger;
  lookups: HostLookups;
  /** Records keyed by project or image id are read by their own keys (budget-own-keys patch). */
  ownKeys: boolean;
  /** budget-lean-decisions: no second measure a count decision cannot use; a trailing ledger recounted. */
  lean?: boolean;
  /** The host had a byte limit at its last decision: its first measure asks for true bytes too. */
  byteLimit?: boolean;
}

export interface Evicted {
  /** The first DECISION_LIST_LIMIT evictions. */
  evicted: Eviction[];
  evictedCount: number;
}

const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

export class Decision {
  facts!: BudgetFacts;
  current!: Plan;
  private pendingBytes = 0;
  private scanned = false;
  /** budget-true-bytes: the byte limit counts the layers only snapshots hold, each once. */
  private trueBytes = false;

  constructor(
    private readonly ctx: DecisionContext,
    private readonly trigger: DecisionTrigger,
    private readonly protectedEntry: ProtectedEntry | null,
  ) {}

  /** Measures the host and plans; about to evict, plans again on what the owners say now. */
  async plan(discover: boolean): Promise<void> {
    const { lookups } = this.ctx;
    if (discover) {
      await lookups.rescan();
      this.scanned = true;
    }
    // Asked only of a host with a byte limit, so the histories of the others record no marker.
    if (this.ctx.byteLimit) this.trueBytes = usePatch(BUDGET_TRUE_BYTES_PATCH);
    await this.measure([]);
    if (!this.trueBytes && this.facts.limits.maxBytes !== undefined && usePatch(BUDGET_TRUE_BYTES_PATCH)) {
      // The limit was not known before this measure (the first decision): measure its bytes now.
      this.trueBytes = true;
      await this.measure([]);
    }
    this.current = this.planNow();
    if (
      this.current.evictions.length > 0 ||
      this.current.short ||
      this.trigger === 'check' ||
      this.shortfallMayTrail()
    ) {
      await this.settle();
    }
  }

  /**
   * Decides on what the owners say now (last use, whether they still hold the image), not on what
   * they reported at registration. Only the victims are asked.
   */
  private async settle(): Promise<void> {
    const { lookups, ledger } = this.ctx;
    const asked = new Set<string>();
    let measured = false;
    for (let round = 0; round < MAX_PLAN_ROUNDS; round++) {
      if (this.current.short && !this.scanned) {
        await lookups.rescan();
        this.scanned = true;
      } else if (this.shortfallMayTrail() && !this.scanned) {
        this.scanned = true;
        await this.recountBeforeShortfall();
      } else {
        const ask = this.current.evictions.map((e) => e.workflowId).filter((id) => !asked.has(id));
        if (ask.length > 0) {
          await lookups.refresh(ask);
          ask.forEach((id) => asked.add(id));
        } else if (!measured && !this.measureAgainUseless()) {
          // Measure again: the owners may have ended, leaving images on their way out. What each
          // candidate would free matters only under disk pressure (it costs an inspect each).
          const unique = this.current.diskOverHigh
            ? ledger
                .coldest()
                .slice(0, MEASURED_CANDIDATES)
                .map((e) => e.imageId)
            : [];
          await this.measure(unique);
          measured = true;
        } else break;
      }
      this.current = this.planNow();
    }
  }

  /**
   * budget-lean-decisions: the second measure tells what images on their way out and the
   * candidates would free on the disk; a plan that evicts only for count limits (the host's, a
   * project's) with the disk below its high watermark cannot change with it (the limits are the
   * worker's settings, the same a moment ago). A check's plan that evicts nothing neither.
   */
  private measureAgainUseless(): boolean {
    return (
      this.ctx.lean === true &&
      !this.current.diskOverHigh &&
      this.current.evictions.every((e) => e.limit === 'count' || e.limit === 'project')
    );
  }

  /**
   * budget-lean-decisions: out of candidates with the disk still over its watermark. Registrations
   * far from every limit need not tell the budget (snapshot/budget.ts), so snapshots registered since
   * the last full count may be unknown here: count the host before saying nothing is left to evict.
   */
  private shortfallMayTrail(): boolean {
    const scannedAt = this.ctx.lookups.scannedAt;
    return (
      this.ctx.lean === true &&
      this.current.diskShortfall !== null &&
      (scannedAt === null || Date.now() - Date.parse(scannedAt) >= SHORTFALL_RECOUNT_AFTER_MS)
    );
  }

  /** A count that fails leaves the decision to the snapshots known, as before the count was asked. */
  private async recountBeforeShortfall(): Promise<void> {
    try {
      await this.ctx.lookups.rescan();
    } catch (err) {
      log.warn(
        'could not count the host before concluding a disk shortfall; deciding on the snapshots known',
        {
          hostId: this.ctx.hostId,
          error: err instanceof Error ? err.message : String(err),
        },
      );
    }
  }

  /** Signals the planned evictions; an owner that is gone counts for nothing, and the plan is redone. */
  async evict(): Promise<Evicted> {
    const { ledger } = this.ctx;
    const evicted: Eviction[] = [];
    let evictedCount = 0;
    for (let round = 0; round < MAX_EVICTION_ROUNDS && this.current.evictions.length > 0; round++) {
      const outcomes = await Promise.allSettled(
        this.current.evictions.map((e) =>
          getExternalWorkflowHandle(e.workflowId).signal(evictSignal, {
            reason: e.reason,
            imageId: e.imageId,
          }),
        ),
      );
      let lost = false;
      this.current.evictions.forEach((e, i) => {
        const gone = ledger.entry(e.workflowId) ?? { ...e, sizeBytes: 0 };
        if (outcomes[i]?.status === 'fulfilled') {
          evictedCount++;
          if (evicted.length < DECISION_LIST_LIMIT) evicted.push(e);
          const bytes = this.own(this.facts.uniqueBytes, e.imageId) ?? gone.sizeBytes;
          ledger.subtract(gone, nowIso(), bytes);
          this.pendingBytes += bytes;
        } else {
          // The owner is gone (terminated, say): it holds nothing any more, so it counts for
          // nothing, and another snapshot may have to go in its place.
          ledger.subtract(gone, nowIso(), 0);
          lost = true;
          log.warn('evicted snapshot workflow is gone', { workflowId: e.workflowId });
        }
      });
      if (!lost) break;
      this.current = this.planNow();
    }
    return { evicted, evictedCount };
  }

  /** An admission can only push its own project over its limit; a check looks at them all. */
  private projectsAsked(): string[] {
    if (this.trigger === 'check') return Object.keys(this.ctx.ledger.totals.projectCounts);
    return this.protectedEntry ? [this.protectedEntry.projectId] : [];
  }

  private async measure(uniqueFor: string[]): Promise<void> {
    const trueBytesFor = this.trueBytes
      ? this.ctx.ledger.coldest().map((e) => imageKey(e.imageId))
      : undefined;
    this.facts = await this.ctx.lookups.facts(uniqueFor, this.projectsAsked(), trueBytesFor);
    this.pendingBytes = sum(this.facts.pendingPresent);
  }

  private planNow(): Plan {
    const { hostId, ledger, ownKeys } = this.ctx;
    return planEvictions({
      hostId,
      entries: ledger.coldest(),
      totals: ledger.totals,
      limits: this.facts.limits,
      disk: this.facts.disk,
      pendingBytes: this.pendingBytes,
      uniqueBytes: this.facts.uniqueBytes,
      protectedWorkflowId: this.protectedEntry?.workflowId ?? null,
      legacyKeys: !ownKeys,
      ...(this.trueBytes && this.facts.trueBytes
        ? { trueBytes: this.facts.trueBytes, departed: ledger.pending.map((p) => imageKey(p.imageId)) }
        : {}),
    });
  }

  private own<T>(record: Record<string, T>, key: string): T | undefined {
    return this.ctx.ownKeys ? ownValue(record, key) : record[key];
  }
}
