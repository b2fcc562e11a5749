// The reconciler's lease rule for an orphan candidate, pure: the reconciler's guard
// (activities/lease-guard.ts) applies it, and `snapkeeper explain` decides by it too, so the two
// cannot disagree on which image a lease protects.
import { LABEL_LEASE, LABEL_PROJECT, LABEL_WORK_ITEM, LEASE_ID_PATTERN } from '../contract/names.js';
import type { LeaseStatus } from './lease-status.js';

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
