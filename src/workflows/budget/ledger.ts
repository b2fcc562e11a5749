// What the budget workflow of a host remembers, kept bounded whatever the host holds: exact totals
// (count, bytes, per project), the few hundred least recently used snapshots one by one (evictions
// are chosen from them), a short memory of admissions and subtractions (so a repeated message
// counts once), and the removals still under way. Pure and deterministic: bundled into the
// workflow, and unit-tested at the size of a large host.
import { lruOrder } from '../../contract/budget-types.js';
import type {
  AdmitRequest,
  BudgetEntry,
  BudgetTotals,
  HostScan,
  LruKey,
  PendingRemoval,
  ReleaseSignal,
} from '../../contract/budget-types.js';
import { countsOf, ownValue } from '../../contract/keyed-records.js';
import type { LedgerCarry } from '../../contract/budget-workflow-input.js';

/** Snapshots the budget knows one by one: the least recently used of the host. */
export const COLD_SET_LIMIT = 500;
/** Admission and subtraction keys remembered, to count a repeated message once. */
export const REMEMBERED_KEYS = 1000;
/** Removals under way that the disk estimate counts as about to be freed. */
export const PENDING_LIMIT = 200;

/** A first-in first-out set of at most `limit` keys. */
class KeyRing {
  private readonly keys: string[];
  private readonly set: Set<string>;
  constructor(
    keys: string[],
    private readonly limit: number,
  ) {
    this.keys = keys.slice(-limit);
    this.set = new Set(this.keys);
  }
  has(key: string): boolean {
    return this.set.has(key);
  }
  add(key: string): void {
    if (this.set.has(key)) return;
    this.keys.push(key);
    this.set.add(key);
    while (this.keys.length > this.limit) this.set.delete(this.keys.shift() as string);
  }
  recent(n: number): string[] {
    return this.keys.slice(-n);
  }
  toJSON(): string[] {
    return [...this.keys];
  }
}

/** A snapshot's key in the memory of admissions: its workflow and (a prefix of) its image id. */
export function ledgerKey(workflowId: string, imageId: string): string {
  return `${workflowId}@${imageId.replace(/^sha256:/, '').slice(0, 16)}`;
}

export type AdmitOutcome = 'admitted' | 'repeated' | 'older' | 'already-gone';

export class BudgetLedger {
  totals: BudgetTotals;
  /** Every counted snapshot colder than `threshold` is here; null threshold: every snapshot is. */
  private cold: Map<string, BudgetEntry>;
  threshold: LruKey | null;
  private readonly admitted: KeyRing;
  private readonly subtracted: KeyRing;
  pending: PendingRemoval[];

  /** Reads project counts by own keys only; false replays the code before the null-prototype fix. */
  private readonly own: <T>(record: Record<string, T>, key: string) => T | undefined;

  constructor(
    carry?: Partial<LedgerCarry> & { entries?: BudgetEntry[] },
    readonly coldLimit = COLD_SET_LIMIT,
    /** Histories from before the null-prototype fix replay with this (see PlanInput.legacyKeys). */
    private readonly legacyKeys = false,
  ) {
    this.own = legacyKeys ? (record, key) => record[key] : ownValue;
    // Keyed by project id, which is input: a carried (JSON) record gets its prototype dropped.
    this.totals = legacyKeys
      ? (carry?.totals ?? { count: 0, bytes: 0, projectCounts: {} })
      : {
          count: carry?.totals?.count ?? 0,
          bytes: carry?.totals?.bytes ?? 0,
          projectCounts: countsOf(carry?.totals?.projectCounts),
        };
    this.cold = new Map();
    this.threshold = carry?.threshold ?? null;
    this.admitted = new KeyRing(carry?.admitted ?? [], REMEMBERED_KEYS);
    this.subtracted = new KeyRing(carry?.subtracted ?? [], REMEMBERED_KEYS);
    this.pending = (carry?.pending ?? []).slice(-PENDING_LIMIT);
    for (const e of carry?.cold ?? []) this.cold.set(e.workflowId, e);
    // A run from before the ledger carried every entry.
    if (carry?.entries && !carry.totals) {
      for (const e of carry.entries) {
        this.add(e);
        this.place(e);
      }
    }
  }

  /** Every snapshot of the host is known one by one. */
  get complete(): boolean {
    return this.threshold === null;
  }

  /** The snapshots known one by one, least recently used first. */
  coldest(): BudgetEntry[] {
    return [...this.cold.values()].sort(lruOrder);
  }

  entry(workflowId: string): BudgetEntry | undefined {
    return this.cold.get(workflowId);
  }

  /** Workflows admitted lately (a scan asks them directly: visibility may not show them yet). */
  recentlyAdmitted(n: number): string[] {
    return [...new Set(this.admitted.recent(n).map((k) => k.slice(0, k.lastIndexOf('@'))))];
  }

  admit(req: AdmitRequest, now: string): AdmitOutcome {
    const key = ledgerKey(req.workflowId, req.imageId);
    // Released or evicted before its admission came in: it holds nothing here any more.
    if (this.subtracted.has(key)) return 'already-gone';
    const prev = this.cold.get(req.workflowId);
    if (this.admitted.has(key) || prev?.imageId === req.imageId) {
      if (prev && prev.imageId === req.imageId && prev.lastUsedAt < req.lastUsedAt)
        this.touch(req.workflowId, req.lastUsedAt);
      return 'repeated';
    }
    // A late retry of an older registration must not replace a newer one.
    if (prev && Date.parse(prev.createdAt) > Date.parse(req.createdAt)) return 'older';
    this.admitted.add(key);
    const replaced =
      prev ??
      (req.replaces
        ? { ...req, imageId: req.replaces.imageId, sizeBytes: req.replaces.sizeBytes }
        : undefined);
    if (replaced && replaced.imageId !== req.imageId) {
      // One snapshot per work item: the replaced image stops counting and is on its way off the disk.
      this.cold.delete(req.workflowId);
      this.subtract(replaced, now);
    }
    const entry: BudgetEntry = {
      workflowId: req.workflowId,
      projectId: req.projectId,
      imageId: req.imageId,
      sizeBytes: req.sizeBytes,
      createdAt: req.createdAt,
      lastUsedAt: req.lastUsedAt,
    };
    this.add(entry);
    this.place(entry);
    return 'admitted';
  }

  /** The snapshot ended (or was evicted, or its owner is gone): it stops counting, once. */
  subtract(
    e: Pick<BudgetEntry, 'workflowId' | 'projectId' | 'imageId' | 'sizeBytes'>,
    now: string,
    freedBytes = e.sizeBytes,
  ): boolean {
    const key = ledgerKey(e.workflowId, e.imageId);
    if (this.cold.get(e.workflowId)?.imageId === e.imageId) this.cold.delete(e.workflowId);
    if (this.subtracted.has(key)) return false;
    this.subtracted.add(key);
    this.totals.count = Math.max(this.totals.count - 1, 0);
    this.totals.bytes = Math.max(this.totals.bytes - e.sizeBytes, 0);
    const left = (this.own(this.totals.projectCounts, e.projectId) ?? 0) - 1;
    if (left > 0) this.totals.projectCounts[e.projectId] = left;
    else delete this.totals.projectCounts[e.projectId];
    this.addPending(e.workflowId, e.imageId, freedBytes, now);
    return true;
  }

  release(r: ReleaseSignal, now: string): boolean {
    return this.subtract(r, now);
  }

  /** What the owner says now: a later last use may make the snapshot warmer than the threshold. */
  touch(workflowId: string, lastUsedAt: string): void {
    const e = this.cold.get(workflowId);
    if (!e || e.lastUsedAt >= lastUsedAt) return;
    const next = { ...e, lastUsedAt };
    this.cold.delete(workflowId);
    this.place(next);
  }

  /** Forget one by one (it still counts): its owner holds another image, whose admission adjusts. */
  forget(workflowId: string): void {
    this.cold.delete(workflowId);
  }

  /** Replaces the totals and the coldest snapshots with a full count of the host. */
  applyScan(scan: HostScan): void {
    this.totals = {
      count: scan.totals.count,
      bytes: scan.totals.bytes,
      projectCounts: this.legacyKeys ? { ...scan.totals.projectCounts } : countsOf(scan.totals.projectCounts),
    };
    this.cold = new Map(scan.coldest.slice(0, this.coldLimit).map((e) => [e.workflowId, e]));
    this.threshold = scan.threshold;
    if (scan.coldest.length > this.coldLimit) {
      const first = scan.coldest[this.coldLimit] as BudgetEntry;
      this.threshold = keyOf(first);
    }
  }

  addPending(workflowId: string, imageId: string, bytes: number, now: string): void {
    if (this.pending.some((p) => p.imageId === imageId)) return;
    this.pending.push({ workflowId, imageId, bytes, since: now });
    if (this.pending.length > PENDING_LIMIT) this.pending.shift();
  }

  toCarry(): LedgerCarry {
    return {
      totals: this.totals,
      cold: this.coldest(),
      threshold: this.threshold,
      admitted: this.admitted.toJSON(),
      subtracted: this.subtracted.toJSON(),
      pending: this.pending,
    };
  }

  private add(e: BudgetEntry): void {
    this.totals.count++;
    this.totals.bytes += e.sizeBytes;
    this.totals.projectCounts[e.projectId] = (this.own(this.totals.projectCounts, e.projectId) ?? 0) + 1;
  }

  /** Keeps the snapshot one by one if it is among the coldest; the set never outgrows its limit. */
  private place(e: BudgetEntry): void {
    if (this.threshold !== null && lruOrder(e, this.threshold) >= 0) return;
    this.cold.set(e.workflowId, e);
    if (this.cold.size <= this.coldLimit) return;
    // Drop the warmest: everything not kept one by one is now at or after it.
    let warmest: BudgetEntry | undefined;
    for (const c of this.cold.values()) if (!warmest || lruOrder(c, warmest) > 0) warmest = c;
    if (!warmest) return;
    this.cold.delete(warmest.workflowId);
    this.threshold = keyOf(warmest);
  }
}

function keyOf(e: LruKey): LruKey {
  return { workflowId: e.workflowId, createdAt: e.createdAt, lastUsedAt: e.lastUsedAt };
}
