// The reconciler's lease rule for an orphan candidate: an image labelled io.snapkeeper.lease=<id>
// stays while the workflow lease:<id> runs, whatever its age. An ended lease (released, expired,
// never known) protects nothing: the image is an ordinary orphan again, under the age grace. When
// the lease cannot be asked (no client, Temporal slow or down), the image stays this round: a
// wrong removal cannot be undone, a late one only waits for the next interval.
import type { ImageInfo } from '../docker/docker-port.js';
import type { Logger } from '../logging/logger.js';
import { LABEL_LEASE, LEASE_ID_PATTERN } from '../contract/names.js';
import type { LeaseLookup, LeaseStatus } from '../service/lease-status.js';
import type { LeaseAnswer, LeaseVerdict } from '../service/lease-rule.js';
import { leaseVerdict } from '../service/lease-rule.js';

/** Ended leases never come back (lease ids are never reused), so their answers are kept, this many. */
const ENDED_KEPT = 10_000;

export interface LeaseGuardDeps {
  /** Absent on a worker without a Temporal client: every leased image then stays. */
  lookup: LeaseLookup | undefined;
  log: Logger;
}

/**
 * The rule with the lookups it needs. A live answer is never reused: a release must show at the
 * very next check (the page, the fence, the removal each ask; leased candidates are few). An
 * ended one is kept, since a lease never comes back.
 */
export function createLeaseGuard({ lookup, log }: LeaseGuardDeps) {
  const ended = new Map<string, LeaseStatus>();

  async function ask(leaseId: string): Promise<LeaseAnswer> {
    if (!lookup) return { state: 'unchecked', error: 'this worker has no Temporal client' };
    const gone = ended.get(leaseId);
    if (gone) return gone;
    try {
      const status = await lookup(leaseId);
      if (status.state === 'ended') {
        ended.set(leaseId, status);
        if (ended.size > ENDED_KEPT) ended.delete(ended.keys().next().value as string);
      }
      return status;
    } catch (err) {
      return { state: 'unchecked', error: err instanceof Error ? err.message : String(err) };
    }
  }

  return async function leaseOf(info: ImageInfo): Promise<LeaseVerdict> {
    const leaseId = info.labels[LABEL_LEASE];
    if (leaseId === undefined) return { protect: false, reason: null };
    const answer = LEASE_ID_PATTERN.test(leaseId) ? await ask(leaseId) : null;
    const verdict = leaseVerdict(info.labels, answer ?? { state: 'ended', status: 'MALFORMED' });
    if (answer?.state === 'unchecked') {
      log.warn(
        { imageId: info.id, leaseId, error: answer.error },
        'lease could not be checked; the image stays this round',
      );
    } else if (!verdict.protect && verdict.reason) {
      log.info(
        { imageId: info.id, leaseId: leaseId.slice(0, 80), reason: verdict.reason },
        'lease protects the image no longer',
      );
    }
    return verdict;
  };
}

export type LeaseGuard = ReturnType<typeof createLeaseGuard>;
