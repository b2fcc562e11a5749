// An accepted registration consumes the lease it names: from then on the snapshot workflow owns the
// image, and a lease left running would keep protecting it after that workflow ends or is
// terminated. Best effort: the registration is already acknowledged, and a lease that could not be
// released still ends at its expiry.
import type { FastifyBaseLogger } from 'fastify';
import type { RouteDeps } from '../deps.js';
import { HTTP_LIMITS } from '../http-limits.js';

export async function releaseRegisteredLease(
  deps: Pick<RouteDeps, 'leases' | 'client'>,
  registration: { leaseId?: string; projectId: string; workItemId: string },
  log: FastifyBaseLogger,
): Promise<void> {
  const { leaseId, projectId, workItemId } = registration;
  if (!leaseId) return;
  if (!deps.leases) {
    log.warn(
      { leaseId },
      'registration names a lease, but this API has no lease service; it ends at its expiry',
    );
    return;
  }
  const leases = deps.leases;
  try {
    const outcome = await deps.client.connection.withDeadline(Date.now() + HTTP_LIMITS.callDeadlineMs, () =>
      // Scoped: the lease workflow ignores a release for another work item.
      leases.release(leaseId, 'consumed by an accepted registration', { projectId, workItemId }),
    );
    log.debug({ leaseId, outcome }, 'lease consumed by the registration');
  } catch (err) {
    log.warn(
      { leaseId, err: err instanceof Error ? err.message : String(err) },
      'could not release the lease of an accepted registration; it ends at its expiry',
    );
  }
}
