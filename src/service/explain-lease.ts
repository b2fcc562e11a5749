// How explain reads a lease off an image (issue 21 part 1): the label `io.snapkeeper.lease=<leaseId>`
// names the lease, which lives while the workflow `lease:<leaseId>` runs (service/lease-status.ts,
// the describe the reconciler makes too). Whether it protects the image is the reconciler's own rule
// (lease-rule.ts): a malformed label, an ended lease, or a live lease of another work item protects
// nothing; a lease that cannot be asked keeps the image. Here it is put in words.
import type { LeaseMemo } from '../contract/lease-types.js';
import { leaseVerdict } from './lease-rule.js';
import {
  LABEL_LEASE,
  LABEL_PROJECT,
  LABEL_WORK_ITEM,
  LEASE_ID_PATTERN,
  leaseWorkflowId,
} from '../contract/names.js';

/** What was learnt of the lease the label names. */
export type LeaseAnswer =
  | { state: 'live'; lease: LeaseMemo | null }
  | { state: 'ended'; status: string }
  | { state: 'unchecked'; error: string }
  | { state: 'malformed' };

/** The lease an image's labels name (null: no lease label); a malformed id has no workflow. */
export function leaseOfImage(
  labels: Record<string, string>,
): { leaseId: string; workflowId: string | null } | null {
  const leaseId = labels[LABEL_LEASE];
  if (leaseId === undefined) return null;
  if (!LEASE_ID_PATTERN.test(leaseId)) return { leaseId: leaseId.slice(0, 80), workflowId: null };
  return { leaseId, workflowId: leaseWorkflowId(leaseId) };
}

export interface LeaseProtection {
  protects: boolean;
  /** When a live lease ends by itself (its memo), if known. */
  expiresAt: string | null;
  /** Why, in words (a clause). */
  why: string;
}

/** The reconciler's lease rule for an orphan candidate, in words. */
export function leaseProtection(
  leaseId: string,
  labels: Record<string, string>,
  answer: LeaseAnswer,
): LeaseProtection {
  const { protect: protects } = leaseVerdict(labels, answer.state === 'malformed' ? null : answer);
  switch (answer.state) {
    case 'malformed':
      return {
        protects,
        expiresAt: null,
        why: `its ${LABEL_LEASE} label ${JSON.stringify(leaseId)} is not a lease id: it protects nothing`,
      };
    case 'ended':
      return {
        protects,
        expiresAt: null,
        why: `its lease ${leaseId} has ended (workflow ${leaseWorkflowId(leaseId)}: ${answer.status.toLowerCase()}): it protects nothing`,
      };
    case 'unchecked':
      return {
        protects,
        expiresAt: null,
        why: `its lease ${leaseId} could not be checked (${answer.error}): the reconciler keeps a leased image it cannot check`,
      };
    case 'live': {
      const l = answer.lease;
      if (l && (l.projectId !== labels[LABEL_PROJECT] || l.workItemId !== labels[LABEL_WORK_ITEM]))
        return {
          protects,
          expiresAt: l.expiresAt || null,
          why: `its lease ${leaseId} is live but of ${l.projectId}/${l.workItemId}, not this work item: it protects nothing here`,
        };
      return {
        protects,
        expiresAt: l?.expiresAt || null,
        why:
          `its lease ${leaseId} is live (workflow ${leaseWorkflowId(leaseId)} runs` +
          (l?.expiresAt ? `, until ${l.expiresAt} at the latest` : '') +
          '): the reconciler does not take it while the lease lives, whatever its age',
      };
    }
  }
}
