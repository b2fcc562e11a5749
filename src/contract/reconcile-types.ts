// Data shapes of the reconciler, and one constant. Pure: bundled into workflow code.

export interface ReconcileWorkflowInput {
  /** Hosts to reconcile; by default every host that has a reconcile schedule or an open snapshot. */
  hosts?: string[];
  /** Unowned managed images younger than this are left alone (a registration may be on its way). */
  orphanGraceSeconds: number;
  /** Report what would be done, and change nothing. */
  dryRun: boolean;
  /** How long a host's Docker worker may take to pick up a task before the host counts as down (60). */
  hostTimeoutSeconds?: number;
  /** Page sizes and history limits (tests shrink them); defaults suit hosts with tens of thousands of images. */
  paging?: ReconcilePaging;
}

export interface ReconcilePaging {
  /** Managed images listed, and decided on, per page (200). */
  imagesPerPage?: number;
  /** Open workflows of the host looked at per page in the vanished check (500). */
  workflowsPerPage?: number;
  /** Continue-as-new once the history of one host's run holds this many events (2,000). */
  continueAsNewAfterEvents?: number;
}

/** Input of the per-host child workflow; `carry` is what one run hands the next on continue-as-new. */
export interface ReconcileHostInput {
  host: string;
  orphanGraceSeconds: number;
  dryRun: boolean;
  hostTimeoutSeconds?: number;
  paging?: ReconcilePaging;
  carry?: ReconcileHostCarry;
}

/** Bounded whatever the host holds: a cursor, and the report with its capped lists. */
export interface ReconcileHostCarry {
  phase: 'images' | 'workflows';
  /** Images: the last image id decided on; workflows: the visibility page token (base64). */
  cursor: string | null;
  report: ReconcileReport;
}

/** One page of a host's managed images, in image id order. */
export interface ManagedImagePage {
  images: ManagedImage[];
  /** Pass as `after` for the next page; null after the last one. */
  next: string | null;
  /** Managed images on the engine when the listing was made. */
  total: number;
}

/** One page of open snapshot workflow ids from visibility. */
export interface WorkflowIdPage {
  workflowIds: string[];
  /** Visibility's page token, base64; null after the last page. */
  next: string | null;
}

/** One managed image as the reconciler saw it. */
export interface ManagedImage {
  imageId: string;
  tags: string[];
  projectId: string | null;
  workItemId: string | null;
  createdAt: string;
  ageSeconds: number;
  sizeBytes: number;
  /**
   * Set when the attribution rule (src/contract/image-references.ts) keeps the image: built from a
   * snapshot (derived), or named by references snapkeeper does not own.
   */
  keptBy?: { references: string[]; derived: boolean };
  /**
   * Set when a live lease protects the image (label io.snapkeeper.lease, docs/operations.md
   * "Leases"): no orphan whatever its age. The removal checks the lease again in any case.
   */
  lease?: { leaseId: string; reason: string };
}

/** A managed image no snapshot holds that the reconciler leaves alone, and why. */
export interface KeptImage {
  imageId: string;
  tags: string[];
  projectId: string | null;
  workItemId: string | null;
  /** The references snapkeeper does not own that name it. */
  references: string[];
  reason: string;
}

export interface BlockedImage {
  imageId: string;
  tags: string[];
  /** Why the engine kept it: containers using it, or child images holding its layers. */
  reason: string;
  holders: string[];
}

export interface VanishedSnapshot {
  workflowId: string;
  imageId: string;
  image: string;
}

/** A managed image kept because its owner could not be asked (the owner's query failed). */
export interface UnverifiedImage {
  imageId: string;
  workflowId: string;
  error: string;
}

export interface ReconcileReport {
  host: string;
  startedAt: string;
  finishedAt: string;
  dryRun: boolean;
  orphanGraceSeconds: number;
  /** Managed images on the engine. */
  managedImages: number;
  /** Of those, the ones an open snapshot workflow holds (current or being removed). */
  owned: number;
  /** Removed (or, in a dry run, that would be removed). */
  orphansRemoved: ManagedImage[];
  orphansKeptYoung: ManagedImage[];
  blocked: BlockedImage[];
  /** Never removed: built from a snapshot, or named by a reference snapkeeper does not own. */
  kept?: KeptImage[];
  /** Open snapshot workflows whose current image is gone from the engine; told to end. */
  vanished: VanishedSnapshot[];
  unverified: UnverifiedImage[];
  /** Owners found wedged (workflow tasks failing with a nondeterminism error) and reset. */
  repaired?: RepairedWorkflow[];
  /** Exact numbers: each list above keeps at most REPORT_LIST_LIMIT entries (a first run may find thousands). */
  counts: ReconcileCounts;
  /** Continue-as-new generations the host's run went through (0 for a small host). */
  generations?: number;
  /** Set when the host could not be reconciled at all (its Docker worker is down, say). */
  error: string | null;
  /**
   * Set when lists were cut beyond REPORT_LIST_LIMIT to keep the report within its size bound
   * (src/workflows/reconcile/bounds.ts); the counts stay exact.
   */
  truncated?: boolean;
}

export interface ReconcileCounts {
  orphansRemoved: number;
  /** The removed orphans' image sizes, summed: shared layers counted again (see orphanBytesFreed). */
  orphanBytesRemoved: number;
  /**
   * What the removals freed on the engine's disk: df LayersSize before less after each batch
   * (issue 21). Absent in reports made before it was measured, or when the engine has no df.
   */
  orphanBytesFreed?: number;
  /** The part of orphanBytesFreed that is an estimate (a batch overlapped other image changes). */
  orphanBytesFreedEstimated?: number;
  orphansKeptYoung: number;
  blocked: number;
  /** Always set by the reconciler; optional only for reports made before kept images were. */
  kept?: number;
  vanished: number;
  unverified: number;
  /** Optional only for reports made before the repair existed. */
  repaired?: number;
}

/** A wedged owner the reconciler reset: its new run starts again after `eventId`. */
export interface RepairedWorkflow {
  workflowId: string;
  newRunId: string;
  eventId: number;
  reason: string;
}

export const REPORT_LIST_LIMIT = 200;
/** Tags listed per image, and holders per blocked image, in reports and activity results. */
export const TAGS_PER_IMAGE_LIMIT = 20;

export interface ReconcileResult {
  reports: ReconcileReport[];
  /**
   * Set when reports were cut or left out to keep the result within its size bound; each host's
   * report stays whole (within its own bound) as the result of its child workflow
   * (`<reconcile workflow id>/<host>`).
   */
  truncated?: boolean;
  /** Reports left out (thousands of hosts), and how many of those are of hosts that failed. */
  omittedReports?: number;
  omittedFailures?: number;
}

/** The owner check's answer for one snapshot workflow: which images it holds, asked by query, not visibility. */
export interface SnapshotOwnerView {
  workflowId: string;
  status: 'running' | 'closed' | 'not-found' | 'error';
  /** Image ids it holds on each host, current or retiring (running workflows only). */
  images: Array<{ imageId: string; image: string; host: string; role: 'current' | 'retiring' }>;
  /** Its current image, for the budget and the vanished check. */
  current: {
    imageId: string;
    image: string;
    host: string;
    projectId: string;
    sizeBytes: number;
    createdAt: string;
    lastUsedAt: string;
  } | null;
  error: string | null;
  /** Set when its query failed because it was wedged, and the reconciler reset it. */
  repaired?: RepairedWorkflow;
}

export interface VanishedSignal {
  /** Only act when this is still the current image. */
  imageId?: string;
  message?: string;
}
