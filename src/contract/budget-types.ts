// Data shapes of the per-host budget: what the budget workflow, its activities, the snapshot
// workflow's admission hook and the operators' tools exchange, and the LRU order both sides sort by.
// Pure: bundled into workflows.

/** One snapshot the budget of a host counts: the current image of one snapshot workflow. */
export interface BudgetEntry {
  workflowId: string;
  projectId: string;
  imageId: string;
  sizeBytes: number;
  createdAt: string;
  /** Last lookup or touch; the creation time until the first one. Drives the LRU order. */
  lastUsedAt: string;
}

/** The one way a budget entry is made from an image a snapshot workflow holds. */
export function budgetEntry(
  workflowId: string,
  image: Pick<BudgetEntry, 'projectId' | 'imageId' | 'sizeBytes' | 'createdAt' | 'lastUsedAt'>,
): BudgetEntry {
  return {
    workflowId,
    projectId: image.projectId,
    imageId: image.imageId,
    sizeBytes: image.sizeBytes,
    createdAt: image.createdAt,
    lastUsedAt: image.lastUsedAt,
  };
}

/**
 * What a snapshot workflow sends after a registration accepted a new image. `replaces` is the image
 * of the same workflow on the same host that this one replaced: the host keeps one snapshot for the
 * work item, and the budget need not remember every workflow to know that.
 */
export type AdmitRequest = BudgetEntry & {
  replaces?: { imageId: string; sizeBytes: number } | null;
};

/** From a snapshot workflow whose current image ended (merge, TTL, invalidate, cancel, vanished). */
export interface ReleaseSignal {
  workflowId: string;
  projectId: string;
  imageId: string;
  sizeBytes: number;
}

/** What the budget counts on its host, kept exactly as admissions, releases and evictions arrive. */
export interface BudgetTotals {
  count: number;
  bytes: number;
  /** Snapshots per project on the host. */
  projectCounts: Record<string, number>;
}

/** A position in the least-recently-used order (see lruOrder). */
export interface LruKey {
  workflowId: string;
  createdAt: string;
  lastUsedAt: string;
}

/** Least recently used first: last use, then creation, then id (a total order). */
export function lruOrder(a: LruKey, b: LruKey): number {
  return (
    Date.parse(a.lastUsedAt) - Date.parse(b.lastUsedAt) ||
    Date.parse(a.createdAt) - Date.parse(b.createdAt) ||
    (a.workflowId < b.workflowId ? -1 : a.workflowId > b.workflowId ? 1 : 0)
  );
}

/** A full count of a host's open snapshots, from visibility and their owners' answers. */
export interface HostScan {
  totals: BudgetTotals;
  /** The least recently used snapshots, at most the limit asked for, least recently used first. */
  coldest: BudgetEntry[];
  /** Every snapshot not in `coldest` is at or after this key; null when `coldest` holds them all. */
  threshold: LruKey | null;
  /** Open workflows whose query failed: not counted, found again by the next scan. */
  unanswered: number;
}

/** An image the budget evicted (or the registration replaced) whose bytes may still be on disk. */
export interface PendingRemoval {
  workflowId: string;
  imageId: string;
  /** Bytes its removal is expected to free (the image's own layers, see BudgetFacts.uniqueBytes). */
  bytes: number;
  since: string;
}

export type BudgetLimitKind = 'project' | 'count' | 'bytes' | 'disk';

export interface Eviction {
  workflowId: string;
  projectId: string;
  imageId: string;
  limit: BudgetLimitKind;
  reason: string;
}

/** Limits of one host, as its Docker worker is configured. Undefined means no such limit. */
export interface BudgetLimits {
  maxSnapshots?: number;
  maxBytes?: number;
  diskHighPercent: number;
  diskLowPercent: number;
  /** Per-project count limits (policy file `maxSnapshots`) of the projects asked about. */
  projectMaxSnapshots: Record<string, number>;
}

export interface DiskUsageFacts {
  dataRoot: string;
  totalBytes: number;
  usedBytes: number;
}

/**
 * One image's own layers (its size less its parent's), when only snapkeeper's images hold them: the
 * image and every image built on it hold them, so they are freed when the last live one of those
 * goes, and counted once however many hold them (budget-true-bytes). The nodes form the engine's
 * image tree, cut to what the budget asked about; a chain of retired parents is merged into one node.
 */
export interface TrueBytesNode {
  /** imageKey of the image. */
  key: string;
  bytes: number;
  /** The node of its parent image, when listed. (Defaults are left out: a decision's facts are history.) */
  parent?: string;
  /** Not a live snapshot itself (a retired parent, an image on its way out); absent: a live one. */
  retired?: true;
  /** Live images built on it that are not listed (no asked-about snapshot above them); absent: 0. */
  others?: number;
}

/** The short key of an image id in true-bytes facts: 16 hex digits, as a ledger key has. */
export function imageKey(imageId: string): string {
  return imageId.replace(/^sha256:/, '').slice(0, 16);
}

/** Everything a decision needs from the host, gathered by one Docker activity. */
export interface BudgetFacts {
  limits: BudgetLimits;
  disk: DiskUsageFacts | null;
  /** Pending removals that are still on the engine, with the bytes their removal should free. */
  pendingPresent: Record<string, number>;
  /** Bytes each asked-about image would free (its size less its parent's), when asked. */
  uniqueBytes: Record<string, number>;
  /**
   * The layer groups that only snapkeeper's images hold and that an asked-about snapshot holds
   * (`trueBytesFor`): what the byte limit counts, each layer once. Absent when not asked.
   */
  trueBytes?: TrueBytesNode[];
}

export interface BudgetUsage {
  snapshots: number;
  bytes: number;
  diskUsedPercent: number | null;
  /** Disk use less the bytes of pending removals: what the next decision counts with. */
  diskEstimatedPercent: number | null;
}

/**
 * The disk was at or above its high watermark and evicting every snapshot the budget may evict does
 * not bring it below the low one (the kubelet's FreeDiskSpaceFailed: "attempted to free X bytes,
 * but only found Y bytes eligible to free"). What fills the disk is not snapkeeper's to remove.
 */
export interface DiskShortfall {
  /** Disk use the decision measured, in percent. */
  usedPercent: number;
  /** Bytes to free to bring the use below the low watermark (pending removals counted as freed). */
  neededBytes: number;
  /** Bytes the evictions this decision made will free: all that was evictable. */
  freeableBytes: number;
}

export interface BudgetDecision {
  at: string;
  trigger: 'admit' | 'check';
  workflowId: string | null;
  /** The first evictions of the decision (a check after a limit was lowered may evict thousands). */
  evicted: Eviction[];
  /** How many it evicted in all. */
  evictedCount?: number;
  usage: BudgetUsage;
  limits: BudgetLimits | null;
  /** Set when the disk stays over its watermarks with nothing left to evict (DiskShortfall). */
  diskShortfall?: DiskShortfall;
}

export interface AdmitResult {
  /** The first evictions of the decision; `evictedCount` says how many in all. */
  evicted: Eviction[];
  evictedCount?: number;
  usage: BudgetUsage;
}

/** What the budget workflow publishes in its memo: read by registrations to know their headroom. */
export interface BudgetMemo {
  count: number;
  bytes: number;
  at: string;
}

export interface BudgetCheckRequest {
  /** Also learn the open snapshot workflows of the host from visibility (after a restart, say). */
  discover?: boolean;
}

export type BudgetCheckResult = AdmitResult;

export interface BudgetView {
  hostId: string;
  /**
   * The least recently used snapshots the budget knows one by one (at most a few hundred): every
   * snapshot of the host when `complete`, otherwise the coldest ones, from which evictions are
   * chosen. `totals` counts them all.
   */
  entries: BudgetEntry[];
  complete: boolean;
  totals: BudgetTotals;
  pending: PendingRemoval[];
  evictionsTotal: number;
  lastDecision: BudgetDecision | null;
}
