// Where one snapshot stands in its host's budget, from the budget entity's own `budget` query
// (BudgetView): its place in the least-recently-used order, and for each limit the budget last read
// (project count, host count, bytes, disk watermarks) how close that limit is to evicting it. The
// budget evicts at registration (and at the reconciler's check), least recently used first, just
// enough to get back within every limit (src/workflows/budget/policy.ts): so a count limit evicts
// the r-th coldest snapshot after (limit - count) + r more registrations, if none of them ends and
// none is used meanwhile. Pure.
import type { BudgetEntry, BudgetLimitKind, BudgetView } from '../contract/budget-types.js';
import { lruOrder } from '../contract/budget-types.js';
import { ownValue } from '../contract/keyed-records.js';
import { ordinal, spellBytes } from './explain-words.js';

export interface BudgetRule {
  limit: BudgetLimitKind;
  /** The limit, in its unit: snapshots (project, count), bytes, or percent of the disk (high watermark). */
  max: number;
  /** Where the host (or the project) stands in that unit; null when unknown. */
  used: number | null;
  /**
   * Registrations on the host (of the project, for `project`) before this limit evicts the image,
   * at the earliest; 0: the budget's next decision does. Null when it depends on sizes (bytes, disk).
   */
  registrationsBefore: number | null;
  /** Over the limit already (or the disk at or above its high watermark). */
  over: boolean;
  sentence: string;
}

export interface BudgetPosition {
  workflowId: string;
  /** 1 is the least recently used of the host; null when the budget does not know it one by one. */
  rank: number | null;
  /** Snapshots the budget counts on the host. */
  snapshots: number;
  /** When the budget last read its limits and the disk (its last decision); null before any. */
  decidedAt: string | null;
  rules: BudgetRule[];
  /** The limit that would evict it first, or null when none is known to. */
  next: BudgetRule | null;
  sentence: string;
}

const RULE_ORDER: BudgetLimitKind[] = ['project', 'count', 'bytes', 'disk'];

export function budgetPosition(
  budgetWorkflowId: string,
  view: BudgetView,
  snapshot: { workflowId: string; projectId: string; imageId: string },
): BudgetPosition {
  const sorted = [...view.entries].sort(lruOrder);
  const index = sorted.findIndex((e) => e.workflowId === snapshot.workflowId);
  const rank = index >= 0 ? index + 1 : null;
  const entry = index >= 0 ? (sorted[index] as BudgetEntry) : null;
  const snapshots = view.totals.count;
  const where = `host ${view.hostId}`;
  let sentence: string;
  if (rank !== null) {
    sentence = `it is the ${ordinal(rank)} least recently used of ${snapshots} snapshot(s) on ${where} (${budgetWorkflowId})`;
  } else if (view.complete) {
    // A host without count or byte limits is not told of registrations far from its disk watermark:
    // its budget knows them from its full count, once a reconcile interval.
    sentence = `${budgetWorkflowId} does not count it yet (its admission may still be on its way, or, where no count or byte limit applies, its next full count); it counts ${snapshots} snapshot(s) on ${where}`;
  } else {
    sentence = `it is not among the ${sorted.length} least recently used of ${snapshots} snapshot(s) on ${where} that ${budgetWorkflowId} tracks one by one: at least that many go before it`;
  }
  const limits = view.lastDecision?.limits ?? null;
  const rules: BudgetRule[] = [];
  if (!limits) {
    return {
      workflowId: budgetWorkflowId,
      rank,
      snapshots,
      decidedAt: view.lastDecision?.at ?? null,
      rules,
      next: null,
      sentence: `${sentence}; the budget has made no decision yet, so the limits of the host are not known to it`,
    };
  }
  // A snapshot the budget does not know one by one comes after all it knows: a lower bound.
  const place = rank ?? sorted.length + 1;
  const atLeast = rank === null ? 'at least ' : '';

  const projectMax = ownValue(limits.projectMaxSnapshots, snapshot.projectId);
  if (projectMax !== undefined) {
    const inProject = sorted.filter((e) => e.projectId === snapshot.projectId);
    const projectRank = entry ? inProject.indexOf(entry) + 1 : inProject.length + 1;
    const count = ownValue(view.totals.projectCounts, snapshot.projectId) ?? inProject.length;
    const before = countRule(projectRank - (count - projectMax), entry === null, count - projectMax);
    rules.push({
      limit: 'project',
      max: projectMax,
      used: count,
      registrationsBefore: before.registrations,
      over: count > projectMax,
      sentence:
        `project ${snapshot.projectId} may keep ${projectMax} snapshot(s) on ${where} and has ${count}: ` +
        before.words('of the project there'),
    });
  }
  if (limits.maxSnapshots !== undefined) {
    const before = countRule(
      place - (snapshots - limits.maxSnapshots),
      rank === null,
      snapshots - limits.maxSnapshots,
    );
    rules.push({
      limit: 'count',
      max: limits.maxSnapshots,
      used: snapshots,
      registrationsBefore: before.registrations,
      over: snapshots > limits.maxSnapshots,
      sentence:
        `${where} may keep ${limits.maxSnapshots} snapshot(s) and has ${snapshots}: ` +
        before.words('on the host'),
    });
  }
  if (limits.maxBytes !== undefined) {
    const bytes = view.totals.bytes;
    const colder = sorted.slice(0, place - 1).reduce((sum, e) => sum + e.sizeBytes, 0);
    // It goes once the new bytes outgrow the headroom plus what the colder ones free.
    const room = limits.maxBytes - bytes + colder;
    rules.push({
      limit: 'bytes',
      max: limits.maxBytes,
      used: bytes,
      registrationsBefore: room < 0 && rank !== null ? 0 : null,
      over: bytes > limits.maxBytes,
      sentence:
        `${where} may keep ${spellBytes(limits.maxBytes)} of snapshots and has ${spellBytes(bytes)}: ` +
        (room >= 0
          ? `it goes once more than ${atLeast}${spellBytes(room)} of new snapshots are registered there`
          : rank !== null
            ? 'the next budget decision evicts it'
            : 'the next budget decision evicts the least recently used, which may reach it'),
    });
  }
  const disk = view.lastDecision?.usage.diskEstimatedPercent ?? view.lastDecision?.usage.diskUsedPercent;
  if (disk !== null && disk !== undefined) {
    const over = disk >= limits.diskHighPercent;
    rules.push({
      limit: 'disk',
      max: limits.diskHighPercent,
      used: disk,
      registrationsBefore: null,
      over,
      sentence:
        `the disk of ${where} was ${disk.toFixed(1)}% full at the budget's last decision: ` +
        (over
          ? `at or above the high watermark (${limits.diskHighPercent}%), the next decision evicts the least recently used until below ${limits.diskLowPercent}%`
          : `at ${limits.diskHighPercent}% the budget evicts the least recently used until below ${limits.diskLowPercent}%`),
    });
  }
  return {
    workflowId: budgetWorkflowId,
    rank,
    snapshots,
    decidedAt: view.lastDecision?.at ?? null,
    rules,
    next: firstToEvict(rules, place),
    sentence,
  };
}

/**
 * A count limit (host or project): it goes after `k` = its place less the excess registrations, 0
 * meaning the next decision. For a snapshot the budget does not know one by one, its place is a
 * lower bound, so is `k`, and a 0 says only that it may go.
 */
function countRule(
  k: number,
  lowerBound: boolean,
  excess: number,
): { registrations: number | null; words: (where: string) => string } {
  if (k > 0)
    return {
      registrations: k,
      words: (where) => `it goes after ${lowerBound ? 'at least ' : ''}${k} more registration(s) ${where}`,
    };
  if (!lowerBound) return { registrations: 0, words: () => 'the next budget decision evicts it' };
  return {
    registrations: null,
    words: () => `the next budget decision evicts the ${excess} least recently used, which may reach it`,
  };
}

/**
 * The rule that evicts it soonest: one that evicts it at the next decision (a full disk does so only
 * for the coldest snapshot: it takes the least recently used first), then the fewest registrations.
 */
function firstToEvict(rules: BudgetRule[], place: number): BudgetRule | null {
  const byOrder = (a: BudgetRule, b: BudgetRule) => RULE_ORDER.indexOf(a.limit) - RULE_ORDER.indexOf(b.limit);
  const now = rules
    .filter((r) => r.registrationsBefore === 0 || (r.limit === 'disk' && r.over && place === 1))
    .sort(byOrder);
  if (now[0]) return now[0];
  const counted = rules
    .filter((r) => r.registrationsBefore !== null)
    .sort((a, b) => (a.registrationsBefore as number) - (b.registrationsBefore as number) || byOrder(a, b));
  return counted[0] ?? null;
}
