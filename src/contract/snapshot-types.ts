// Data shapes of a snapshot shared by workflows, activities, API and clients. No imports: this
// module is bundled into workflow code.
//
// A snapshot is seen five ways, each for one reader:
//   SnapshotState         one image as its workflow records it (the query, the API's JSON, the Web UI)
//   SnapshotWorkflowView  the `state` query's answer: the current image, the retiring ones, the last
//   SnapshotSummary       a listing row, from visibility's search attributes (fields may be null)
//   SnapshotOwnerView     (reconcile-types.ts) which images one workflow holds, for the reconciler
//   BudgetEntry           (budget-types.ts) what a host's budget counts of a current image

export type SnapshotStatus = 'active' | 'invalidated' | 'removal-blocked' | 'removed' | 'kept';

export const SNAPSHOT_STATUSES: SnapshotStatus[] = [
  'active',
  'invalidated',
  'removal-blocked',
  'removed',
  'kept',
];

export type EndReason =
  'merged' | 'invalidated' | 'evicted' | 'expired' | 'cancelled' | 'replaced' | 'vanished';

export interface PullRequestRef {
  repository: string;
  number: number;
}

export interface RegisterRequest {
  image: string;
  host: string;
  ttlSeconds?: number;
  slidingTtl?: boolean;
  pullRequest?: PullRequestRef;
  /** A snapshot with at least this many layers is not offered for reuse (SNAPKEEPER_MAX_LAYER_DEPTH). */
  maxLayerDepth?: number;
}

/** The body of `POST /v1/snapshots`: a registration before the API fills in the host. */
export interface RegisterSnapshotBody extends Omit<RegisterRequest, 'host'> {
  projectId: string;
  workItemId: string;
  /** The Docker host holding the image; the API's own host id when omitted. */
  host?: string;
  /** The lease that protected the commit (POST /v1/leases): an accepted registration releases it. */
  leaseId?: string;
}

/**
 * One image of a work item as its snapshot workflow records it; the query, the API's JSON and the
 * Web UI show it as is. Running workflows carry it in their histories, so fields are only added.
 */
export interface SnapshotState {
  projectId: string;
  workItemId: string;
  image: string;
  imageId: string;
  host: string;
  /** Where this image is in its life (a SnapshotStatus); the API's JSON and the histories name it `state`. */
  state: SnapshotStatus;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string;
  sizeBytes: number;
  ttlSeconds: number;
  slidingTtl: boolean;
  pullRequest: PullRequestRef | null;
  endReason: EndReason | null;
  /** Why the engine refused the last removal attempt, while the state is removal-blocked. */
  blockedBy: string | null;
  message: string | null;
  /**
   * The references snapkeeper owns for this image (besides its own snapkeeper/* tags): the
   * registered one, or the commit's own tag when it was registered by id. Absent in states
   * recorded before references were.
   */
  references?: string[];
  /** RootFS layer count: each job committed from a snapshot adds one. */
  layerDepth?: number;
  /** Why a lookup does not offer this image (its chain is too deep), or null. */
  reuseBlockedBy?: string | null;
  /** State kept: the references snapkeeper does not own that still name the image. */
  keptBy?: string[] | null;
  /**
   * Once removed: the bytes its removal freed on the engine's disk, from the engine's own figures
   * before and after (`docker system df` LayersSize). Absent when nothing was measured.
   */
  freedBytes?: number;
  /** `measured`, or `estimated` when other image changes on the engine overlapped the removal. */
  freedBytesMeasure?: 'measured' | 'estimated';
}

/**
 * A snapshot as visibility knows it. `imageId`, `createdAt` and `lastUsedAt` are not search
 * attributes, so a listing shows them as null unless it asked for the full view (a query per item).
 */
export interface SnapshotSummary extends Omit<
  SnapshotState,
  'imageId' | 'createdAt' | 'lastUsedAt' | 'ttlSeconds' | 'slidingTtl' | 'endReason' | 'blockedBy' | 'message'
> {
  imageId: string | null;
  createdAt: string | null;
  lastUsedAt: string | null;
  ttlSeconds?: number;
  slidingTtl?: boolean;
  endReason?: SnapshotState['endReason'];
  blockedBy?: string | null;
  message?: string | null;
  workflowId: string;
  /** Temporal's execution status of the owning workflow: running, completed, terminated, … */
  workflowStatus: string;
}

export interface SnapshotPage {
  items: SnapshotSummary[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** The `state` query's answer: the current image, the images still leaving the disk, the last that ended. */
export interface SnapshotWorkflowView {
  current: SnapshotState | null;
  retiring: SnapshotState[];
  last: SnapshotState | null;
}

/**
 * How a pull request event found a work item: `link` through the image's own link (visibility),
 * `branch` through a branch rule. A `link` signal ends only an image linked to that pull request; a
 * `branch` one also ends an image without any link. Without it, `link` is assumed.
 */
export type PullRequestMatch = 'link' | 'branch';

export interface MergedSignal {
  pullRequest?: PullRequestRef;
  deliveryId?: string;
  /** When the pull request merged (GitHub's merged_at); an image registered later is not ended by it. */
  mergedAt?: string;
  match?: PullRequestMatch;
}

export interface InvalidateSignal {
  reason: string;
  /** When the cause happened (e.g. a pull request closed); an image registered later is not ended by it. */
  occurredAt?: string;
  /** Only this image: an invalidation decided for one image must not end the one that replaced it. */
  imageId?: string;
  /** Only an image meant by this pull request (a close without merge), found as `match` says. */
  pullRequest?: PullRequestRef;
  match?: PullRequestMatch;
}

/** The `invalidateImage` update (DELETE /v1/snapshots/…): refused when another image is current. */
export interface InvalidateRequest {
  reason: string;
  /** The image the caller means; refused with ImageNotCurrent when another one is current. */
  imageId?: string;
}

export interface EvictSignal {
  reason?: string;
  /** Only evict when this is still the current image: an old eviction must not hit a newer image. */
  imageId?: string;
}

export type RegisterOutcome = 'created' | 'replaced' | 'unchanged';

export interface RegisterResult {
  outcome: RegisterOutcome;
  snapshot: SnapshotState;
}

export interface TouchRequest {
  at?: string;
  /** Refused (TouchNotNeeded, no history) when the last recorded use is younger than this. */
  recordEveryMs?: number;
}

/** A lookup's use, recorded without an answer (a signal): see SnapshotService.lookup. */
export interface UsedSignal {
  /** The image the lookup offered: a use of an image that has since ended records nothing. */
  imageId: string;
  /** Recorded only when the last recorded use is at least this old (lookups racing past it). */
  recordEveryMs?: number;
}

/** What a snapshot workflow keeps in its memo, for lookups that wake no worker. */
export interface SnapshotMemo {
  current: SnapshotState | null;
}

/** The image facts the engine reports, checked at registration. */
export interface ImageFacts {
  imageId: string;
  sizeBytes: number;
  labels: Record<string, string>;
  createdAt: string;
  /** The full id's references snapkeeper owns from this registration on (see image-references.ts). */
  references: string[];
  layerDepth: number;
  /** Far from every limit of the host's budget: the admission need not be waited for. */
  budgetHeadroom?: boolean;
  /**
   * No count or byte limit applies to the image and the disk is far from its watermark: the
   * budget need not count it (HeadroomVerdict `uncounted`). Absent from earlier releases' results.
   */
  budgetUncounted?: boolean;
}
