// The budget's decision, as a pure function: given the snapshots a host holds, its limits and its
// disk, which snapshots must go. Deterministic (no clock, no I/O), so the budget workflow can run it
// and unit tests can check it case by case.
import type {
  BudgetEntry,
  BudgetLimits,
  BudgetTotals,
  BudgetUsage,
  DiskUsageFacts,
  Eviction,
} from '../contract/budget-types.js';
import { lruOrder } from '../contract/budget-types.js';
import { emptyRecord, ownValue, recordOf } from '../contract/keyed-records.js';

export interface PlanInput {
  hostId: string;
  /** The snapshots known one by one: all of them, or (with `totals`) the least recently used ones. */
  entries: BudgetEntry[];
  /** Counts of every snapshot of the host when `entries` holds only the coldest; else from entries. */
  totals?: BudgetTotals;
  limits: BudgetLimits;
  disk: Pick<DiskUsageFacts, 'usedBytes' | 'totalBytes'> | null;
  /** Bytes of earlier evictions and replacements still on the disk, about to be freed. */
  pendingBytes: number;
  /** Bytes each image's removal frees; its sizeBytes when unknown. */
  uniqueBytes: Record<string, number>;
  /** The snapshot being admitted: never evicted by its own admission. */
  protectedWorkflowId?: string | null;
  /**
   * Read the records as the code before the null-prototype fix did, where a project named like a
   * property of Object.prototype (`constructor`) read an inherited function as its count. Only for
   * histories from before that patch, so they replay the decisions they recorded.
   */
  legacyKeys?: boolean;
}

export interface Plan {
  evictions: Eviction[];
  usage: BudgetUsage;
  /** The disk was over its high watermark (the caller may want exact byte estimates). */
  diskOverHigh: boolean;
  /**
   * A limit is still crossed and the known entries ran out while `totals` counts more snapshots:
   * the caller must learn more of them (a scan) to decide.
   */
  short: boolean;
}

export function diskPercent(usedBytes: number, totalBytes: number): number {
  return totalBytes > 0 ? (usedBytes / totalBytes) * 100 : 0;
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/**
 * Evicts the fewest least-recently-used snapshots that bring the host within every limit: each
 * limit is checked against what the earlier ones already evicted, so no snapshot goes for nothing.
 * Disk pressure evicts only once the high watermark is reached, and then until the estimated use
 * falls below the low watermark (hysteresis, as the kubelet's image GC does).
 */
export function planEvictions(input: PlanInput): Plan {
  const { hostId, limits } = input;
  const sorted = [...input.entries].sort(lruOrder);
  const totals = input.totals ?? totalsOf(input.entries);
  let count = totals.count;
  let bytes = totals.bytes;
  // Keyed by project id, which is input: only own keys count (see keyed-records.ts).
  const own: <T>(record: Record<string, T>, key: string) => T | undefined = input.legacyKeys
    ? (record, key) => record[key]
    : ownValue;
  const projectCounts = input.legacyKeys ? { ...totals.projectCounts } : recordOf(totals.projectCounts);
  const evictions: Eviction[] = [];
  const evicted: BudgetEntry[] = [];
  const gone = new Set<string>();
  let short = false;
  const known = (filter?: (e: BudgetEntry) => boolean) =>
    sorted.filter((e) => !gone.has(e.workflowId) && (!filter || filter(e)));
  const candidates = (filter?: (e: BudgetEntry) => boolean) =>
    known(filter).filter((e) => e.workflowId !== input.protectedWorkflowId);
  const evict = (entry: BudgetEntry, limit: Eviction['limit'], reason: string) => {
    gone.add(entry.workflowId);
    evicted.push(entry);
    count--;
    bytes -= entry.sizeBytes;
    projectCounts[entry.projectId] = (own(projectCounts, entry.projectId) ?? 1) - 1;
    evictions.push({
      workflowId: entry.workflowId,
      projectId: entry.projectId,
      imageId: entry.imageId,
      limit,
      reason,
    });
  };
  /** Out of candidates: short when snapshots exist that the caller did not pass one by one. */
  const outOfCandidates = (counted: number, filter?: (e: BudgetEntry) => boolean) => {
    if (counted > known(filter).length) short = true;
  };
  /** Evicts the least recently used (among `filter`) while `over()` holds, or until none is left. */
  const evictWhile = (
    over: () => boolean,
    limit: Eviction['limit'],
    reason: string,
    counted: () => number,
    filter?: (e: BudgetEntry) => boolean,
    onEvicted?: (e: BudgetEntry) => void,
  ) => {
    while (over()) {
      const victim = candidates(filter)[0];
      if (!victim) {
        outOfCandidates(counted(), filter);
        return;
      }
      evict(victim, limit, reason);
      onEvicted?.(victim);
    }
  };

  const projects = Object.keys(limits.projectMaxSnapshots).sort();
  for (const projectId of projects) {
    const max = own(limits.projectMaxSnapshots, projectId);
    if (max === undefined) continue;
    const inProject = (e: BudgetEntry) => e.projectId === projectId;
    const inUse = () => own(projectCounts, projectId) ?? 0;
    evictWhile(
      () => inUse() > max,
      'project',
      `evicted: project ${projectId} may keep ${max} snapshot(s) on host ${hostId}; this one was the least recently used`,
      inUse,
      inProject,
    );
  }

  if (limits.maxSnapshots !== undefined) {
    const max = limits.maxSnapshots;
    evictWhile(
      () => count > max,
      'count',
      `evicted: host ${hostId} may keep ${max} snapshot(s); this one was the least recently used`,
      () => count,
    );
  }

  if (limits.maxBytes !== undefined) {
    const max = limits.maxBytes;
    evictWhile(
      () => bytes > max,
      'bytes',
      `evicted: host ${hostId} may keep ${formatBytes(max)} of snapshots; this one was the least recently used`,
      () => count,
    );
  }

  let diskUsedPercent: number | null = null;
  let diskEstimatedPercent: number | null = null;
  let diskOverHigh = false;
  if (input.disk && input.disk.totalBytes > 0) {
    const { totalBytes: total, usedBytes } = input.disk;
    const freedBy = (e: BudgetEntry) => own(input.uniqueBytes, e.imageId) ?? e.sizeBytes;
    // What earlier decisions already set free counts as free: their removals are under way.
    let estimated = Math.max(usedBytes - input.pendingBytes, 0);
    for (const e of evicted) estimated -= freedBy(e);
    estimated = Math.max(estimated, 0);
    diskUsedPercent = diskPercent(usedBytes, total);
    if (diskPercent(estimated, total) >= limits.diskHighPercent) {
      diskOverHigh = true;
      const startPercent = diskPercent(estimated, total);
      evictWhile(
        () => diskPercent(estimated, total) >= limits.diskLowPercent,
        'disk',
        `evicted: disk of host ${hostId} at ${startPercent.toFixed(1)}% reached the high watermark ` +
          `${limits.diskHighPercent}%; freeing the least recently used down to below ${limits.diskLowPercent}%`,
        () => count,
        undefined,
        (victim) => {
          estimated = Math.max(estimated - freedBy(victim), 0);
        },
      );
    }
    diskEstimatedPercent = diskPercent(estimated, total);
  }

  return {
    evictions,
    diskOverHigh,
    short,
    usage: {
      snapshots: Math.max(count, 0),
      bytes: Math.max(bytes, 0),
      diskUsedPercent,
      diskEstimatedPercent,
    },
  };
}

export function totalsOf(entries: BudgetEntry[]): BudgetTotals {
  const projectCounts = emptyRecord<number>();
  let bytes = 0;
  for (const e of entries) {
    bytes += e.sizeBytes;
    projectCounts[e.projectId] = (ownValue(projectCounts, e.projectId) ?? 0) + 1;
  }
  return { count: entries.length, bytes, projectCounts };
}
