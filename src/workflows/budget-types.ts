// Data shapes of the per-host budget: what the budget workflow, its activities, the snapshot
// workflow's admission hook and the operators' tools exchange. Types only: bundled into workflows.

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

/** What a snapshot workflow sends after a registration accepted a new image. */
export type AdmitRequest = BudgetEntry;

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

/** Everything a decision needs from the host, gathered by one Docker activity. */
export interface BudgetFacts {
  limits: BudgetLimits;
  disk: DiskUsageFacts | null;
  /** Pending removals that are still on the engine, with the bytes their removal should free. */
  pendingPresent: Record<string, number>;
  /** Bytes each asked-about image would free (its size less its parent's), when asked. */
  uniqueBytes: Record<string, number>;
}

export interface BudgetUsage {
  snapshots: number;
  bytes: number;
  diskUsedPercent: number | null;
  /** Disk use less the bytes of pending removals: what the next decision counts with. */
  diskEstimatedPercent: number | null;
}

export interface BudgetDecision {
  at: string;
  trigger: 'admit' | 'check';
  workflowId: string | null;
  evicted: Eviction[];
  usage: BudgetUsage;
  limits: BudgetLimits | null;
}

export interface AdmitResult {
  evicted: Eviction[];
  usage: BudgetUsage;
}

export interface BudgetCheckRequest {
  /** Also learn the open snapshot workflows of the host from visibility (after a restart, say). */
  discover?: boolean;
}

export type BudgetCheckResult = AdmitResult;

export interface BudgetView {
  hostId: string;
  entries: BudgetEntry[];
  pending: PendingRemoval[];
  evictionsTotal: number;
  lastDecision: BudgetDecision | null;
}
