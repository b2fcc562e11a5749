// The budget's decision, as a pure function: given the snapshots a host holds, its limits and its
// disk, which snapshots must go. Deterministic (no clock, no I/O), so the budget workflow can run it
// and unit tests can check it case by case.
import type { BudgetEntry, BudgetLimits, BudgetUsage, DiskUsageFacts, Eviction } from './budget-types.js';

export interface PlanInput {
  hostId: string;
  entries: BudgetEntry[];
  limits: BudgetLimits;
  disk: Pick<DiskUsageFacts, 'usedBytes' | 'totalBytes'> | null;
  /** Bytes of earlier evictions and replacements still on the disk, about to be freed. */
  pendingBytes: number;
  /** Bytes each image's removal frees; its sizeBytes when unknown. */
  uniqueBytes: Record<string, number>;
  /** The snapshot being admitted: never evicted by its own admission. */
  protectedWorkflowId?: string | null;
}

export interface Plan {
  evictions: Eviction[];
  usage: BudgetUsage;
  /** The disk was over its high watermark (the caller may want exact byte estimates). */
  diskOverHigh: boolean;
}

/** Least recently used first: last use, then creation, then id (a total order). */
export function lruOrder(a: BudgetEntry, b: BudgetEntry): number {
  return (
    Date.parse(a.lastUsedAt) - Date.parse(b.lastUsedAt) ||
    Date.parse(a.createdAt) - Date.parse(b.createdAt) ||
    (a.workflowId < b.workflowId ? -1 : a.workflowId > b.workflowId ? 1 : 0)
  );
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
  let remaining = [...input.entries].sort(lruOrder);
  const evictions: Eviction[] = [];
  const evicted: BudgetEntry[] = [];
  const candidates = (filter?: (e: BudgetEntry) => boolean) =>
    remaining.filter((e) => e.workflowId !== input.protectedWorkflowId && (!filter || filter(e)));
  const evict = (entry: BudgetEntry, limit: Eviction['limit'], reason: string) => {
    remaining = remaining.filter((e) => e !== entry);
    evicted.push(entry);
    evictions.push({
      workflowId: entry.workflowId,
      projectId: entry.projectId,
      imageId: entry.imageId,
      limit,
      reason,
    });
  };

  const projects = [...new Set(remaining.map((e) => e.projectId))].sort();
  for (const projectId of projects) {
    const max = limits.projectMaxSnapshots[projectId];
    if (max === undefined) continue;
    const inProject = (e: BudgetEntry) => e.projectId === projectId;
    while (remaining.filter(inProject).length > max) {
      const victim = candidates(inProject)[0];
      if (!victim) break;
      evict(
        victim,
        'project',
        `evicted: project ${projectId} may keep ${max} snapshot(s) on host ${hostId}; this one was the least recently used`,
      );
    }
  }

  if (limits.maxSnapshots !== undefined) {
    const max = limits.maxSnapshots;
    while (remaining.length > max) {
      const victim = candidates()[0];
      if (!victim) break;
      evict(
        victim,
        'count',
        `evicted: host ${hostId} may keep ${max} snapshot(s); this one was the least recently used`,
      );
    }
  }

  const totalBytes = () => remaining.reduce((sum, e) => sum + e.sizeBytes, 0);
  if (limits.maxBytes !== undefined) {
    const max = limits.maxBytes;
    while (totalBytes() > max) {
      const victim = candidates()[0];
      if (!victim) break;
      evict(
        victim,
        'bytes',
        `evicted: host ${hostId} may keep ${formatBytes(max)} of snapshots; this one was the least recently used`,
      );
    }
  }

  let diskUsedPercent: number | null = null;
  let diskEstimatedPercent: number | null = null;
  let diskOverHigh = false;
  if (input.disk && input.disk.totalBytes > 0) {
    const { totalBytes: total, usedBytes } = input.disk;
    const freedBy = (e: BudgetEntry) => input.uniqueBytes[e.imageId] ?? e.sizeBytes;
    // What earlier decisions already set free counts as free: their removals are under way.
    let estimated = Math.max(usedBytes - input.pendingBytes, 0);
    for (const e of evicted) estimated -= freedBy(e);
    estimated = Math.max(estimated, 0);
    diskUsedPercent = diskPercent(usedBytes, total);
    if (diskPercent(estimated, total) >= limits.diskHighPercent) {
      diskOverHigh = true;
      const startPercent = diskPercent(estimated, total);
      while (diskPercent(estimated, total) >= limits.diskLowPercent) {
        const victim = candidates()[0];
        if (!victim) break;
        evict(
          victim,
          'disk',
          `evicted: disk of host ${hostId} at ${startPercent.toFixed(1)}% reached the high watermark ` +
            `${limits.diskHighPercent}%; freeing the least recently used down to below ${limits.diskLowPercent}%`,
        );
        estimated = Math.max(estimated - freedBy(victim), 0);
      }
    }
    diskEstimatedPercent = diskPercent(estimated, total);
  }

  return {
    evictions,
    diskOverHigh,
    usage: {
      snapshots: remaining.length,
      bytes: totalBytes(),
      diskUsedPercent,
      diskEstimatedPercent,
    },
  };
}
