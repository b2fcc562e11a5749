// The reconciler's lease rule for an orphan candidate: an image labelled io.snapkeeper.lease=<id>
// stays while the workflow lease:<id> runs, whatever its age. An ended lease (released, expired,
// never known) protects nothing: the image is an ordinary orphan again, under the age grace. When
// the lease cannot be asked (no client, Temporal slow or down), the image stays this round: a
// wrong removal cannot be undone, a late one only waits for the next interval.
import type { ImageInfo } from '../docker/docker-port.js';
import type { Logger } from '../logging/logger.js';
import { LABEL_LEASE, LABEL_PROJECT, LABEL_WORK_ITEM, LEASE_ID_PATTERN } from '../contract/names.js';
import type { LeaseLookup, LeaseStatus } from '../service/lease-status.js';

export type LeaseVerdict = { protect: true; reason: string } | { protect: false; reason: string | null };

/** What was learnt of the lease an image names: its status, or why it could not be asked. */
export type LeaseAnswer = LeaseStatus | { state: 'unchecked'; error: string };

/** The pure rule, given the image's labels and what was learnt of its lease. */
export function leaseVerdict(labels: Record<string, string>, answer: LeaseAnswer | null): LeaseVerdict {
  const leaseId = labels[LABEL_LEASE];
  if (leaseId === undefined) return { protect: false, reason: null };
  if (!LEASE_ID_PATTERN.test(leaseId))
    return { protect: false, reason: `malformed lease label ${JSON.stringify(leaseId.slice(0, 80))}` };
  if (!answer) return { protect: true, reason: `lease ${leaseId} could not be checked` };
  switch (answer.state) {
    case 'unchecked':
      return { protect: true, reason: `lease ${leaseId} could not be checked: ${answer.error}` };
    case 'ended':
      return { protect: false, reason: `lease ${leaseId} ended (${answer.status.toLowerCase()})` };
    case 'live': {
      const l = answer.lease;
      // A lease protects the commits of its own work item only: a label copied onto another
      // work item's image gets no protection from it.
      if (l && (l.projectId !== labels[LABEL_PROJECT] || l.workItemId !== labels[LABEL_WORK_ITEM])) {
        return {
          protect: false,
          reason: `lease ${leaseId} is of ${l.projectId}/${l.workItemId}, not this work item`,
        };
      }
      return { protect: true, reason: `leased by ${leaseId}${l ? ` until ${l.expiresAt}` : ''}` };
    }
  }
}

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
