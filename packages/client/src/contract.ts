// The part of snapkeeper's contract a router needs: the HTTP API's data shapes, the id and image
// reference rules, and the labels a snapshot commit carries. The package owns this copy so that it
// installs without the service (no Temporal SDK, nothing of src/); the service's own definitions
// (src/contract) are bundled into workflow code and cannot import a package. A unit test in the
// service (test/unit/client-contract.test.ts) fails the moment the two disagree.

export type SnapshotStatus = 'active' | 'invalidated' | 'removal-blocked' | 'removed' | 'kept';

export type EndReason =
  'merged' | 'invalidated' | 'evicted' | 'expired' | 'cancelled' | 'replaced' | 'vanished';

export interface PullRequestRef {
  repository: string;
  number: number;
}

/** The body of `POST /v1/snapshots`. */
export interface RegisterSnapshotBody {
  projectId: string;
  workItemId: string;
  image: string;
  /** The Docker host holding the image; the API's own host id when omitted. */
  host?: string;
  ttlSeconds?: number;
  slidingTtl?: boolean;
  pullRequest?: PullRequestRef;
  /** A snapshot with at least this many layers is not offered for reuse (SNAPKEEPER_MAX_LAYER_DEPTH). */
  maxLayerDepth?: number;
  /** The lease that protected the commit (POST /v1/leases): an accepted registration releases it. */
  leaseId?: string;
}

/** One image of a work item as its snapshot workflow records it (the API's JSON). */
export interface SnapshotState {
  projectId: string;
  workItemId: string;
  image: string;
  imageId: string;
  host: string;
  /** Where this image is in its life. */
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
  /** The references snapkeeper owns for this image (besides its own snapkeeper/* tags). */
  references?: string[];
  /** RootFS layer count: each job committed from a snapshot adds one. */
  layerDepth?: number;
  /** Why a lookup does not offer this image (its chain is too deep), or null. */
  reuseBlockedBy?: string | null;
  /** State kept: the references snapkeeper does not own that still name the image. */
  keptBy?: string[] | null;
  /** Once removed: the bytes its removal freed on the engine's disk (LayersSize before less after). */
  freedBytes?: number;
  /** `measured`, or `estimated` when other image changes on the engine overlapped the removal. */
  freedBytesMeasure?: 'measured' | 'estimated';
}

/** A listing row, from Temporal's visibility: fields that are not search attributes may be null. */
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

export type RegisterOutcome = 'created' | 'replaced' | 'unchanged';

export interface RegisterResult {
  outcome: RegisterOutcome;
  snapshot: SnapshotState;
}

/** Project and work item ids. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,127}$/;
/** name[:tag], name@digest or a bare image id; lowercase repository path components as Docker wants. */
export const IMAGE_REF_PATTERN =
  /^(sha256:[a-f0-9]{64}|[a-f0-9]{12,64}|[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?)$/;
export const IMAGE_REF_MAX_LENGTH = 255;

export const LABEL_MANAGED = 'io.snapkeeper.managed';
export const LABEL_PROJECT = 'io.snapkeeper.project';
export const LABEL_WORK_ITEM = 'io.snapkeeper.work-item';
/** Set by commitSnapshot: a random id of that one commit, repeated in the image's Comment. */
export const LABEL_COMMIT = 'io.snapkeeper.commit';
/** Set by commitSnapshot: the repo:tag the commit itself was given (a reference snapkeeper owns). */
export const LABEL_REFERENCE = 'io.snapkeeper.reference';
/** Set by commitSnapshot with a lease: the reconciler never reaps the commit while the lease lives. */
export const LABEL_LEASE = 'io.snapkeeper.lease';
/** Lease ids, as POST /v1/leases makes them (UUIDs). */
export const LEASE_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The body of `POST /v1/leases`. */
export interface CreateLeaseBody {
  projectId: string;
  workItemId: string;
  /** 5 to 86,400; default 900. */
  ttlSeconds?: number;
}

/** The answer of `POST /v1/leases`: the lease lives at least until expiresAt, unless released. */
export interface LeaseGrant {
  leaseId: string;
  expiresAt: string;
}

export function managedLabels(projectId: string, workItemId: string): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_PROJECT]: projectId, [LABEL_WORK_ITEM]: workItemId };
}

/** The Comment commitSnapshot gives a commit; an image built from it does not inherit it. */
export function commitComment(commitId: string): string {
  return `snapkeeper commit ${commitId}`;
}
