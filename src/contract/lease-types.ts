// Data shapes and bounds of leases: a commit in flight, protected from the reconciler until its
// registration. Pure: bundled into workflow code.

/** ttlSeconds of POST /v1/leases: the default covers a slow registration, the maximum a day. */
export const LEASE_MIN_TTL_SECONDS = 5;
export const LEASE_DEFAULT_TTL_SECONDS = 15 * 60;
export const LEASE_MAX_TTL_SECONDS = 24 * 3600;

/** The lease workflow's input; its lifetime is the start's workflowExecutionTimeout (= ttl). */
export interface LeaseWorkflowInput {
  projectId: string;
  workItemId: string;
  ttlSeconds: number;
}

/**
 * Written at the start (no extra action): what the lease protects and until when. The reconciler
 * reads it with the workflow's description; explain shows it.
 */
export interface LeaseMemo {
  projectId: string;
  workItemId: string;
  expiresAt: string;
}

/**
 * The release. With projectId and workItemId (a registration that names the lease), only a lease
 * of that work item ends: a wrong id in a registration cannot end another work item's lease.
 */
export interface LeaseReleaseSignal {
  reason: string;
  projectId?: string;
  workItemId?: string;
}

/** How a lease ended, as the workflow returns it (a lease that expired returns nothing: timed out). */
export interface LeaseResult {
  releasedAt: string;
  reason: string;
}

/** POST /v1/leases */
export interface CreateLeaseBody {
  projectId: string;
  workItemId: string;
  ttlSeconds?: number;
}

/** The answer of POST /v1/leases. */
export interface LeaseGrant {
  leaseId: string;
  expiresAt: string;
}

export type LeaseWorkflowFunction = (input: LeaseWorkflowInput) => Promise<LeaseResult>;
