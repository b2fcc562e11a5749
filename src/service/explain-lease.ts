// How explain reads a lease off an image (issue 21 part 1): the label `io.snapkeeper.lease=<leaseId>`
// names the lease, which lives while the workflow `lease:<leaseId>` runs. The lease itself is built
// beside this (src/contract/names.ts will export LABEL_LEASE and leaseWorkflowId); until then the
// two names are spelled here, and only here, so switching to the contract's is a one-line change.

const LABEL_LEASE = 'io.snapkeeper.lease';
const LEASE_WORKFLOW_ID_PREFIX = 'lease:';

/** The lease an image's labels name, or null. */
export function leaseOfImage(labels: Record<string, string>): { leaseId: string; workflowId: string } | null {
  const leaseId = labels[LABEL_LEASE]?.trim();
  if (!leaseId) return null;
  return { leaseId, workflowId: `${LEASE_WORKFLOW_ID_PREFIX}${leaseId}` };
}
