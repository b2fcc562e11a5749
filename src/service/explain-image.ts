// `snapkeeper explain`'s decision: from the gathered facts (explain-facts.ts), why an image stays on
// its host or why it would go. Pure, and it follows the reconciler's own order
// (src/workflows/reconcile-workflow.ts, decidePage) so that what it says is what a run would do:
// held by a running owner → owner could not be asked (unverified) → kept by references snapkeeper
// does not own → protected by a live lease → an orphan, young or due, blocked or not.
import { attributeReferences } from '../contract/image-references.js';
import {
  KEPT_REPOSITORY,
  LABEL_MANAGED,
  LABEL_PROJECT,
  LABEL_WORK_ITEM,
  REAPING_REPOSITORY,
  budgetWorkflowId,
  imageIdTag,
} from '../contract/names.js';
import type { SnapshotState } from '../contract/snapshot-types.js';
import type { BudgetPosition } from './explain-budget.js';
import { budgetPosition } from './explain-budget.js';
import type { ExplainContainer, ExplainFacts, ExplainOwnerFacts, WorkflowPresence } from './explain-facts.js';
import type { Reaping } from './explain-reaping.js';
import { reapingTime } from './explain-reaping.js';
import type { LeaseAnswer } from './explain-lease.js';
import { leaseProtection } from './explain-lease.js';
import { shortId, spellDuration, spellList, spellTime } from './explain-words.js';

/**
 * - held: a running snapshot workflow holds it as its current image;
 * - leaving: a running snapshot workflow is removing it (ended, being removed or removal-blocked);
 * - unverified: its workflow runs but could not be asked; the reconciler keeps it until it answers;
 * - kept: no workflow holds it, and a reference snapkeeper does not own (or being built from a
 *   snapshot) keeps it: never removed while that lasts;
 * - leased: no workflow holds it, and a live lease protects it from the reconciler;
 * - orphan: nothing holds it: the reconciler removes it once it is older than the grace;
 * - unmanaged: no managed label: snapkeeper never touches it.
 */
export type ExplainVerdict = 'held' | 'leaving' | 'unverified' | 'kept' | 'leased' | 'orphan' | 'unmanaged';

export const EXPLAIN_VERDICTS: readonly ExplainVerdict[] = [
  'held',
  'leaving',
  'unverified',
  'kept',
  'leased',
  'orphan',
  'unmanaged',
];

export interface ExplainOwner {
  workflowId: string;
  /** running, closed, not-found or error (the describe's answer). */
  status: WorkflowPresence['status'];
  /** Temporal's close status of a closed workflow (completed, terminated, ...). */
  closeStatus: string | null;
  /** How the workflow holds this image: its current one, one it is removing, or none. */
  holds: 'current' | 'retiring' | null;
  /** The workflow's record of this image, when it holds it. */
  snapshot: SnapshotState | null;
  /** What it holds instead, when it runs and holds another current image. */
  currentImage: { image: string; imageId: string; host: string } | null;
  /** A closed workflow's last SnapshotState search attribute. */
  lastState: string | null;
}

export interface Explanation {
  verdict: ExplainVerdict;
  /** Plain sentences, most important first. */
  reasons: string[];
  image: {
    ref: string;
    id: string;
    tags: string[];
    digests: string[];
    createdAt: string;
    sizeBytes: number;
    managed: boolean;
    projectId: string | null;
    workItemId: string | null;
  };
  host: { id: string; engine: string };
  owner: ExplainOwner | null;
  /** The reference rule's split (null for an unmanaged image, which it never applies to). */
  references: { owned: string[]; foreign: string[]; derived: boolean } | null;
  containers: ExplainContainer[];
  children: string[];
  /** The lease its label names; `protects` is the reconciler's rule (explain-lease.ts). */
  lease: {
    leaseId: string;
    workflowId: string | null;
    state: LeaseAnswer['state'];
    protects: boolean;
    expiresAt: string | null;
  } | null;
  /** Where a held current image stands in its host's budget. */
  budget: BudgetPosition | null;
  /** When the reconciler takes it, for an orphan (or a leased image once its lease ends). */
  reaping: Reaping | null;
}

export function explainImage(facts: ExplainFacts): Explanation {
  const now = Date.parse(facts.now);
  const { image } = facts;
  const managed = image.labels[LABEL_MANAGED] === 'true';
  const base: Explanation = {
    verdict: 'unmanaged',
    reasons: [],
    image: {
      ref: facts.ref,
      id: image.id,
      tags: image.repoTags,
      digests: image.repoDigests,
      createdAt: image.createdAt,
      sizeBytes: image.sizeBytes,
      managed,
      projectId: image.labels[LABEL_PROJECT] ?? null,
      workItemId: image.labels[LABEL_WORK_ITEM] ?? null,
    },
    host: { id: facts.hostId, engine: facts.engine },
    owner: null,
    references: null,
    containers: facts.containers,
    children: facts.children,
    lease: null,
    budget: null,
    reaping: null,
  };
  if (!managed) return unmanaged(base, image.labels[LABEL_MANAGED]);

  const owner = describeOwner(facts.owner, image.id);
  base.owner = owner;
  const lease = facts.lease;
  const protection = lease ? leaseProtection(lease.leaseId, image.labels, lease.answer) : null;
  base.lease =
    lease && protection
      ? {
          leaseId: lease.leaseId,
          workflowId: lease.workflowId,
          state: lease.answer.state,
          protects: protection.protects,
          expiresAt: protection.expiresAt,
        }
      : null;

  if (owner?.holds && owner.snapshot) return held(base, facts, owner, owner.snapshot, now);
  if (facts.owner && isUnverified(facts.owner)) return unverified(base, facts.owner);

  const attribution = attributeReferences(image);
  base.references = attribution;
  const why = notHeldSentence(owner);
  if (attribution.derived || attribution.foreign.length > 0) return kept(base, facts, why, attribution);
  base.reaping = reapingTime(image.createdAt, facts.schedule, facts.configGraceSeconds, now);
  if (protection?.protects) return leased(base, facts, [why, protection.why], now);
  return orphan(base, facts, protection ? [why, protection.why] : [why], now);
}

function unmanaged(base: Explanation, label: string | undefined): Explanation {
  const reasons = [
    label === undefined
      ? `it has no ${LABEL_MANAGED}=true label: snapkeeper does not manage it and will never remove, untag or evict it`
      : `its ${LABEL_MANAGED} label is ${JSON.stringify(label)}, not "true": snapkeeper does not manage it and will never remove, untag or evict it`,
  ];
  if (base.children.length > 0)
    reasons.push(`${base.children.length} image(s) are built on it; they do not change that`);
  return { ...base, verdict: 'unmanaged', reasons };
}

function describeOwner(facts: ExplainOwnerFacts | null, imageId: string): ExplainOwner | null {
  if (!facts) return null;
  const view = facts.presence.status === 'running' ? facts.view : null;
  const retiring = view?.retiring.find((r) => r.imageId === imageId) ?? null;
  const current = view?.current && view.current.imageId === imageId ? view.current : null;
  const other = view?.current && !current ? view.current : null;
  return {
    workflowId: facts.workflowId,
    status: facts.presence.status,
    closeStatus: facts.presence.status === 'closed' ? facts.presence.closeStatus : null,
    holds: current ? 'current' : retiring ? 'retiring' : null,
    snapshot: current ?? retiring,
    currentImage: other ? { image: other.image, imageId: other.imageId, host: other.host } : null,
    lastState: facts.lastState,
  };
}

/** The reconciler keeps an image whose owner it could not ask (report `unverified`). */
function isUnverified(owner: ExplainOwnerFacts): boolean {
  return owner.presence.status === 'error' || (owner.presence.status === 'running' && owner.view === null);
}

function containerSentence(containers: ExplainContainer[]): string {
  const names = containers.map((c) => `${c.names[0]?.replace(/^\//, '') ?? c.id.slice(0, 12)} (${c.state})`);
  return `${containers.length} container(s) use it: ${spellList(names)}`;
}

function held(
  base: Explanation,
  facts: ExplainFacts,
  owner: ExplainOwner,
  snapshot: SnapshotState,
  now: number,
): Explanation {
  const item = `${snapshot.projectId}/${snapshot.workItemId}`;
  const attribution = attributeReferences(facts.image, snapshot.references ?? []);
  const out: Explanation = { ...base, references: attribution };
  const reasons: string[] = [];
  if (owner.holds === 'retiring') {
    out.verdict = 'leaving';
    reasons.push(
      `workflow ${owner.workflowId} (running) is removing it: the snapshot of ${item} ended` +
        (snapshot.endReason ? ` (${snapshot.endReason})` : '') +
        ` and is ${snapshot.state}`,
    );
    if (snapshot.blockedBy)
      reasons.push(`the engine refuses the removal: ${snapshot.blockedBy}; it is retried with backoff`);
    if (snapshot.message) reasons.push(snapshot.message);
    if (facts.containers.length > 0)
      reasons.push(`${containerSentence(facts.containers)}; the image goes once they are removed`);
    if (attribution.foreign.length > 0)
      reasons.push(
        `${spellList(attribution.foreign)} name(s) it and are not snapkeeper's: it will stay as kept, with them`,
      );
    out.reasons = reasons;
    return out;
  }
  out.verdict = 'held';
  reasons.push(
    `workflow ${owner.workflowId} (running) holds it as the current snapshot of ${item}, state ${snapshot.state}`,
  );
  if (snapshot.host !== facts.hostId)
    reasons.push(
      `that workflow records it on host ${snapshot.host}, not ${facts.hostId}: an engine shared by two host ids, or --host names the wrong host`,
    );
  const ends = [
    `its TTL at ${spellTime(snapshot.expiresAt, now)}${snapshot.slidingTtl ? ', moved on by each use' : ''}`,
    ...(snapshot.pullRequest
      ? [`the merge of ${snapshot.pullRequest.repository}#${snapshot.pullRequest.number}`]
      : []),
    'an invalidation',
    `an eviction by the budget of host ${snapshot.host}`,
  ];
  reasons.push(`it ends at the first of: ${ends.join(', ')}`);
  if (snapshot.reuseBlockedBy) reasons.push(`lookups do not offer it: ${snapshot.reuseBlockedBy}`);
  const budgetId = budgetWorkflowId(snapshot.host);
  const budget = facts.budget;
  if (budget?.view) {
    out.budget = budgetPosition(budgetId, budget.view, {
      workflowId: owner.workflowId,
      projectId: snapshot.projectId,
      imageId: snapshot.imageId,
    });
    reasons.push(out.budget.sentence);
    if (out.budget.next) reasons.push(`next budget rule to evict it: ${out.budget.next.sentence}`);
    else if (out.budget.rules.length === 0 && out.budget.decidedAt !== null)
      reasons.push(`host ${snapshot.host} has no budget limit that could evict it`);
    for (const rule of out.budget.rules) if (rule !== out.budget.next) reasons.push(rule.sentence);
  } else if (budget?.presence.status === 'not-found') {
    reasons.push(`host ${snapshot.host} has no budget entity (${budgetId}): no budget limit evicts it`);
  } else if (budget) {
    reasons.push(
      `the budget ${budgetId} could not be asked (${budget.queryError ?? presenceText(budget.presence)}): which limit would evict it is unknown`,
    );
  }
  if (attribution.foreign.length > 0)
    reasons.push(
      `${spellList(attribution.foreign)} also name(s) it and are not snapkeeper's: when the snapshot ends, snapkeeper removes only its own references and the image stays as kept`,
    );
  if (facts.containers.length > 0)
    reasons.push(
      `${containerSentence(facts.containers)}; when the snapshot ends its removal waits for them (removal-blocked)`,
    );
  out.reasons = reasons;
  return out;
}

function presenceText(p: WorkflowPresence): string {
  if (p.status === 'closed') return `closed, ${p.closeStatus}`;
  if (p.status === 'error') return p.error;
  return p.status;
}

function unverified(base: Explanation, owner: ExplainOwnerFacts): Explanation {
  const error = owner.presence.status === 'error' ? owner.presence.error : (owner.queryError ?? 'no answer');
  return {
    ...base,
    verdict: 'unverified',
    reasons: [
      `its labels name workflow ${owner.workflowId}, which could not be asked whether it holds the image (${error})`,
      'the reconciler keeps an image whose owner does not answer (reported as unverified) and resets a wedged owner, so it is decided by a later run',
    ],
  };
}

/** Why no workflow holds it: the part of the answer common to kept, leased and orphan images. */
function notHeldSentence(owner: ExplainOwner | null): string {
  if (!owner)
    return `its labels name no work item (${LABEL_PROJECT}, ${LABEL_WORK_ITEM}), so no snapshot workflow can hold it`;
  switch (owner.status) {
    case 'not-found':
      return `no workflow ${owner.workflowId} exists: the image was never registered, or its workflow is past the namespace's retention`;
    case 'closed':
      return (
        `its workflow ${owner.workflowId} is ${owner.closeStatus}` +
        (owner.lastState ? ` (last state ${owner.lastState})` : '') +
        ': a closed workflow holds nothing'
      );
    default: {
      const other = owner.currentImage;
      return (
        `its workflow ${owner.workflowId} runs but holds ` +
        (other
          ? `another image (${other.image}, ${shortId(other.imageId)}, on host ${other.host})`
          : 'no image') +
        ': this one was replaced, or never registered'
      );
    }
  }
}

function kept(
  base: Explanation,
  facts: ExplainFacts,
  why: string,
  attribution: { foreign: string[]; derived: boolean },
): Explanation {
  const reasons = [why];
  if (attribution.derived) {
    reasons.push(
      "it is built FROM a snapshot (it carries a commit's labels, not its Comment): it is not a snapshot, and the reconciler never removes it (reported as kept)",
    );
  }
  if (attribution.foreign.length > 0) {
    reasons.push(
      `${spellList(attribution.foreign)} name(s) it and are not snapkeeper's: the reconciler leaves the image and those references alone (reported as kept)`,
    );
    const keptTag = `${KEPT_REPOSITORY}:${imageIdTag(facts.image.id)}`;
    if (!attribution.derived)
      reasons.push(
        facts.image.repoTags.includes(keptTag)
          ? `its snapshot ended as kept (${keptTag}): once those references are removed, that tag is all that is left and the next reconcile run removes it`
          : 'once those references are removed, the next reconcile run after the grace removes it',
      );
  }
  return { ...base, verdict: 'kept', reasons };
}

function leased(base: Explanation, facts: ExplainFacts, why: string[], now: number): Explanation {
  const reasons = [
    ...why,
    `when the lease ends (released, expired, or used by a registration), it is an orphan: ${reapingSentence(base.reaping as Reaping, facts, now)}`,
  ];
  return { ...base, verdict: 'leased', reasons };
}

function orphan(base: Explanation, facts: ExplainFacts, why: string[], now: number): Explanation {
  const reasons = [...why];
  const reaping = base.reaping as Reaping;
  if (facts.image.repoTags.includes(`${REAPING_REPOSITORY}:${imageIdTag(facts.image.id)}`))
    reasons.push(
      `it carries ${REAPING_REPOSITORY}:${shortId(facts.image.id)}…: a reconcile run is removing it now`,
    );
  reasons.push(reapingSentence(reaping, facts, now));
  if (facts.containers.length > 0)
    reasons.push(
      `${containerSentence(facts.containers)}: the reconciler never forces, so it leaves the image (reported as blocked) until they are gone`,
    );
  if (facts.children.length > 0)
    reasons.push(
      `${facts.children.length} image(s) are built on it (${spellList(facts.children.map(shortId))}): the engine keeps its layers, and the reconciler reports it as blocked until they are gone`,
    );
  return { ...base, verdict: 'orphan', reasons };
}

/** When the reconciler takes it, in words. */
function reapingSentence(reaping: Reaping, facts: ExplainFacts, now: number): string {
  const grace =
    `the grace is ${spellDuration(reaping.graceSeconds * 1000)}` +
    (reaping.graceFrom === 'schedule'
      ? ` (the schedule's)`
      : ` (SNAPKEEPER_ORPHAN_GRACE here; no schedule to read it from)`);
  const young = Date.parse(reaping.eligibleAt) > now;
  const age = young
    ? `it is younger than the grace until ${spellTime(reaping.eligibleAt, now)}`
    : 'it is older than the grace';
  const manual = `snapkeeper reconcile --host ${facts.hostId}`;
  switch (reaping.noRun) {
    case null:
      return `${grace}; ${age}: the reconcile run at ${spellTime(reaping.runAt as string, now)} (${reaping.scheduleId}) removes it`;
    case 'paused':
      return `${grace}; ${age}, but the schedule ${reaping.scheduleId} is paused: nothing removes it until it is unpaused or ${manual} runs`;
    case 'no-schedule':
      return `${grace}; ${age}, but host ${facts.hostId} has no reconcile schedule (${reaping.scheduleId}): nothing removes it until the host's Docker worker starts (it makes the schedule) or ${manual} runs`;
    case 'unreadable':
      return `${grace}; ${age}; the schedule ${reaping.scheduleId} could not be read (${facts.schedule?.error ?? 'unknown error'}), so when a run takes it is unknown`;
    case 'no-next-run':
      return `${grace}; ${age}, but the schedule ${reaping.scheduleId} lists no next run`;
  }
}
