// The budget's decision, as a pure function: given the snapshots a host holds, its limits and its
// disk, which snapshots must go. Deterministic (no clock, no I/O), so the budget workflow can run it
// and unit tests can check it case by case.
import type {
  BudgetEntry,
  BudgetLimits,
  BudgetTotals,
  BudgetUsage,
  DiskShortfall,
  DiskUsageFacts,
  Eviction,
  TrueBytesNode,
} from '../../contract/budget-types.js';
import { imageKey, lruOrder } from '../../contract/budget-types.js';
import { emptyRecord, ownValue, recordOf } from '../../contract/keyed-records.js';

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
   * budget-true-bytes: the byte limit counts these layer groups, each once, instead of the known
   * snapshots' image sizes (the snapshots not known one by one still count at their image size).
   */
  trueBytes?: TrueBytesNode[] | undefined;
  /** Image keys on their way out (pending removals): they hold no layer group for the count. */
  departed?: string[] | undefined;
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
  /** Over the high watermark, and even evicting all it may does not bring it below the low one. */
  diskShortfall: DiskShortfall | null;
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
  const plan = new EvictionPlan(input);
  plan.enforceProjectLimits();
  plan.enforceHostLimits();
  const disk = plan.enforceDiskWatermarks();
  return plan.result(disk);
}

type EntryFilter = (e: BudgetEntry) => boolean;

interface DiskOutcome {
  diskUsedPercent: number | null;
  diskEstimatedPercent: number | null;
  diskOverHigh: boolean;
  diskShortfall: DiskShortfall | null;
}

/** One plan being made: what is still counted, and what was chosen so far, limit after limit. */
class EvictionPlan {
  private readonly sorted: BudgetEntry[];
  private count: number;
  private bytes: number;
  private readonly projectCounts: Record<string, number>;
  private readonly evictions: Eviction[] = [];
  private readonly evicted: BudgetEntry[] = [];
  private readonly gone = new Set<string>();
  private short = false;
  /** budget-true-bytes: what each eviction frees of the layer groups, as the byte limit counts them. */
  private readonly trueBytes: TrueBytesCount | null;
  // Keyed by project id, which is input: only own keys count (see keyed-records.ts).
  private readonly own: <T>(record: Record<string, T>, key: string) => T | undefined;

  constructor(private readonly input: PlanInput) {
    this.sorted = [...input.entries].sort(lruOrder);
    const totals = input.totals ?? totalsOf(input.entries);
    this.count = totals.count;
    this.bytes = totals.bytes;
    this.trueBytes = null;
    if (input.trueBytes) {
      this.trueBytes = new TrueBytesCount(
        input.trueBytes,
        new Set(input.entries.map((e) => imageKey(e.imageId))),
        new Set(input.departed ?? []),
      );
      // The snapshots not known one by one (a host of more than the cold set) still count at their
      // image size: an over-count, so the limit is never exceeded for want of a measure.
      const knownSizes = input.entries.reduce((n, e) => n + e.sizeBytes, 0);
      this.bytes = this.trueBytes.total + Math.max(totals.bytes - knownSizes, 0);
    }
    this.own = input.legacyKeys ? (record, key) => record[key] : ownValue;
    this.projectCounts = input.legacyKeys ? { ...totals.projectCounts } : recordOf(totals.projectCounts);
  }

  enforceProjectLimits(): void {
    const { hostId, limits } = this.input;
    for (const projectId of Object.keys(limits.projectMaxSnapshots).sort()) {
      const max = this.own(limits.projectMaxSnapshots, projectId);
      if (max === undefined) continue;
      const inUse = () => this.own(this.projectCounts, projectId) ?? 0;
      this.evictWhile(
        () => inUse() > max,
        'project',
        `evicted: project ${projectId} may keep ${max} snapshot(s) on host ${hostId}; this one was the least recently used`,
        inUse,
        (e) => e.projectId === projectId,
      );
    }
  }

  enforceHostLimits(): void {
    const { hostId, limits } = this.input;
    const { maxSnapshots, maxBytes } = limits;
    if (maxSnapshots !== undefined) {
      this.evictWhile(
        () => this.count > maxSnapshots,
        'count',
        `evicted: host ${hostId} may keep ${maxSnapshots} snapshot(s); this one was the least recently used`,
        () => this.count,
      );
    }
    if (maxBytes !== undefined) {
      this.evictWhile(
        () => this.bytes > maxBytes,
        'bytes',
        `evicted: host ${hostId} may keep ${formatBytes(maxBytes)} of snapshots; this one was the least recently used`,
        () => this.count,
      );
    }
  }

  enforceDiskWatermarks(): DiskOutcome {
    const { hostId, limits, disk } = this.input;
    if (!disk || disk.totalBytes <= 0)
      return { diskUsedPercent: null, diskEstimatedPercent: null, diskOverHigh: false, diskShortfall: null };
    const { totalBytes: total, usedBytes } = disk;
    const freedBy = (e: BudgetEntry) => this.own(this.input.uniqueBytes, e.imageId) ?? e.sizeBytes;
    // What earlier decisions already set free counts as free: their removals are under way.
    let estimated = Math.max(usedBytes - this.input.pendingBytes, 0);
    for (const e of this.evicted) estimated -= freedBy(e);
    estimated = Math.max(estimated, 0);
    let diskOverHigh = false;
    let diskShortfall: DiskShortfall | null = null;
    if (diskPercent(estimated, total) >= limits.diskHighPercent) {
      diskOverHigh = true;
      const startPercent = diskPercent(estimated, total);
      const startBytes = estimated;
      this.evictWhile(
        () => diskPercent(estimated, total) >= limits.diskLowPercent,
        'disk',
        `evicted: disk of host ${hostId} at ${startPercent.toFixed(1)}% reached the high watermark ` +
          `${limits.diskHighPercent}%; freeing the least recently used down to below ${limits.diskLowPercent}%`,
        () => this.count,
        undefined,
        (victim) => {
          estimated = Math.max(estimated - freedBy(victim), 0);
        },
      );
      // Out of candidates with the disk still over the low watermark: say so, as the kubelet does.
      if (diskPercent(estimated, total) >= limits.diskLowPercent) {
        const lowBytes = Math.floor((total * limits.diskLowPercent) / 100);
        diskShortfall = {
          usedPercent: diskPercent(usedBytes, total),
          neededBytes: Math.max(startBytes - lowBytes, 0),
          freeableBytes: startBytes - estimated,
        };
      }
    }
    return {
      diskUsedPercent: diskPercent(usedBytes, total),
      diskEstimatedPercent: diskPercent(estimated, total),
      diskOverHigh,
      diskShortfall,
    };
  }

  result({ diskUsedPercent, diskEstimatedPercent, diskOverHigh, diskShortfall }: DiskOutcome): Plan {
    return {
      evictions: this.evictions,
      diskOverHigh,
      diskShortfall,
      short: this.short,
      usage: {
        snapshots: Math.max(this.count, 0),
        bytes: Math.max(this.bytes, 0),
        diskUsedPercent,
        diskEstimatedPercent,
      },
    };
  }

  /** Evicts the least recently used (among `filter`) while `over()` holds, or until none is left. */
  private evictWhile(
    over: () => boolean,
    limit: Eviction['limit'],
    reason: string,
    counted: () => number,
    filter?: EntryFilter,
    onEvicted?: (e: BudgetEntry) => void,
  ): void {
    while (over()) {
      const victim = this.known(filter).find((e) => e.workflowId !== this.input.protectedWorkflowId);
      if (!victim) {
        // Out of candidates: short when snapshots exist that the caller did not pass one by one.
        if (counted() > this.known(filter).length) this.short = true;
        return;
      }
      this.evict(victim, limit, reason);
      onEvicted?.(victim);
    }
  }

  private known(filter?: EntryFilter): BudgetEntry[] {
    return this.sorted.filter((e) => !this.gone.has(e.workflowId) && (!filter || filter(e)));
  }

  private evict(entry: BudgetEntry, limit: Eviction['limit'], reason: string): void {
    this.gone.add(entry.workflowId);
    this.evicted.push(entry);
    this.count--;
    this.bytes -= this.trueBytes ? this.trueBytes.remove(imageKey(entry.imageId)) : entry.sizeBytes;
    this.projectCounts[entry.projectId] = (this.own(this.projectCounts, entry.projectId) ?? 1) - 1;
    const { workflowId, projectId, imageId } = entry;
    this.evictions.push({ workflowId, projectId, imageId, limit, reason });
  }
}

/**
 * The true bytes of the known snapshots (budget-true-bytes), on the engine's image tree: a node's
 * layers count when known snapshots hold them and no other live image does (it, or an image built
 * on it), and are freed by the eviction of the last of them. Layers a snapshot shares with an image
 * the budget does not know one by one (a kept or derived image, a commit in flight built on it, a
 * snapshot warmer than the cold set, itself counted at its image size) are not the snapshots' alone:
 * they do not count, so no eviction is made for bytes no eviction can free. An eviction walks down
 * its chain: O(depth).
 */
export class TrueBytesCount {
  total = 0;
  private readonly nodes = new Map<string, TrueBytesNode>();
  /** Holders left per node: live images at or above it, itself included. */
  private readonly left = new Map<string, number>();
  private readonly counted = new Set<string>();
  private readonly gone = new Set<string>();

  constructor(nodes: TrueBytesNode[], known: ReadonlySet<string>, departed: ReadonlySet<string>) {
    for (const n of nodes) this.nodes.set(n.key, n);
    const children = new Map<string, TrueBytesNode[]>();
    const roots: TrueBytesNode[] = [];
    for (const n of nodes) {
      if (n.parent === undefined || !this.nodes.has(n.parent)) roots.push(n);
      else {
        const list = children.get(n.parent) ?? [];
        list.push(n);
        children.set(n.parent, list);
      }
    }
    // Top-down, then bottom-up sums (no recursion: a chain may be long).
    const order: TrueBytesNode[] = [];
    const stack = [...roots];
    while (stack.length > 0) {
      const n = stack.pop() as TrueBytesNode;
      order.push(n);
      stack.push(...(children.get(n.key) ?? []));
    }
    const knownAbove = new Map<string, number>();
    for (let i = order.length - 1; i >= 0; i--) {
      const n = order[i] as TrueBytesNode;
      const live = n.retired !== true;
      const holds = live && !departed.has(n.key);
      if (live && !holds) this.gone.add(n.key);
      let left = (holds ? 1 : 0) + (n.others ?? 0);
      let knownHere = holds && known.has(n.key) ? 1 : 0;
      for (const c of children.get(n.key) ?? []) {
        left += this.left.get(c.key) ?? 0;
        knownHere += knownAbove.get(c.key) ?? 0;
      }
      this.left.set(n.key, left);
      knownAbove.set(n.key, knownHere);
      // Every live holder is a known snapshot: only then can evictions free these layers.
      if (left > 0 && knownHere === left) {
        this.counted.add(n.key);
        this.total += n.bytes;
      }
    }
  }

  /** The holder goes: the bytes of the layers it was the last to hold. */
  remove(holder: string): number {
    const start = this.nodes.get(holder);
    if (!start || start.retired === true || this.gone.has(holder)) return 0;
    this.gone.add(holder);
    let freed = 0;
    for (let n: TrueBytesNode | undefined = start; n; n = n.parent ? this.nodes.get(n.parent) : undefined) {
      const left = (this.left.get(n.key) ?? 0) - 1;
      this.left.set(n.key, left);
      if (left === 0 && this.counted.has(n.key)) freed += n.bytes;
    }
    this.total -= freed;
    return freed;
  }
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
