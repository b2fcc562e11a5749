// Shrinks a failing run plan to a small one that still fails, by delta debugging on the plan's
// plain data: first the lanes no violation named go (work items are separate workflows), then
// chunks of steps of each remaining lane, halves down to single steps, then single actions of a
// batch. fast-check's own shrinker is not used: the lanes of a run are a fixed-length array, so
// every candidate it tried replayed all lanes of the run (15 to 50 s each here), and it cannot
// start from a recorded plan. A candidate counts as failing when its run reports a violation of
// the same kind as the original (ids, tags, numbers and positions aside); a race that does not
// happen again in a candidate only keeps the plan larger, never wrong.
import type { LanePlan, RunPlan } from './sim-actions.js';
import { actionCount } from './sim-actions.js';

export interface ShrinkResult {
  plan: RunPlan;
  violations: string[];
  /** Candidate runs tried. */
  tries: number;
  /** Whether the budget ran out before no smaller candidate failed. */
  exhausted: boolean;
}

/** Runs a candidate: its violations, and the lanes they name. */
export type Check = (plan: RunPlan) => Promise<{ violations: string[]; implicated: number[] }>;

export async function shrinkPlan(
  failing: RunPlan,
  found: { violations: string[]; implicated: number[] },
  check: Check,
  budgetMs: number,
  log: (message: string) => void,
): Promise<ShrinkResult> {
  const deadline = Date.now() + budgetMs;
  const kinds = new Set(found.violations.map(violationKind));
  let best = failing;
  let violations = found.violations;
  let tries = 0;
  const attempt = async (candidate: RunPlan): Promise<boolean> => {
    if (Date.now() > deadline || candidate.lanes.length === 0) return false;
    tries += 1;
    const report = await check(candidate);
    // The same kind of violation, not just any: a shrink must not drift to another defect.
    if (!report.violations.some((v) => kinds.has(violationKind(v)))) return false;
    best = candidate;
    violations = report.violations;
    log(`shrink: ${actionCount(best)} actions in ${best.lanes.length} lanes still fail`);
    return true;
  };

  // The lanes the violations named, alone; then each of them alone.
  const named = found.implicated.map((i) => failing.lanes[i]).filter((l): l is LanePlan => !!l);
  if (named.length < failing.lanes.length) await attempt({ lanes: named });
  if (best.lanes.length > 1) {
    for (const lane of best.lanes) if (await attempt({ lanes: [lane] })) break;
  }

  // Chunks of steps, per lane, from halves down to single steps.
  for (let li = 0; li < best.lanes.length; li++) {
    for (let chunk = Math.ceil(stepsOf(best, li).length / 2); chunk >= 1; chunk = Math.floor(chunk / 2)) {
      for (let at = 0; at < stepsOf(best, li).length;) {
        const steps = stepsOf(best, li);
        if (steps.length <= 1) break;
        const fewer = [...steps.slice(0, at), ...steps.slice(at + chunk)];
        if (fewer.length === 0 || !(await attempt(withSteps(best, li, fewer)))) at += chunk;
        if (Date.now() > deadline) break;
      }
      if (chunk === 1 || Date.now() > deadline) break;
    }
  }

  // Single actions of a batch.
  for (let li = 0; li < best.lanes.length; li++) {
    for (let si = 0; si < stepsOf(best, li).length; si++) {
      for (let ai = 0; ai < (stepsOf(best, li)[si]?.length ?? 0);) {
        const steps = stepsOf(best, li);
        const step = steps[si] ?? [];
        if (step.length <= 1) break;
        const smaller = [...step.slice(0, ai), ...step.slice(ai + 1)];
        const candidate = withSteps(
          best,
          li,
          steps.map((s, i) => (i === si ? smaller : s)),
        );
        if (!(await attempt(candidate))) ai += 1;
        if (Date.now() > deadline) break;
      }
    }
  }
  return { plan: best, violations, tries, exhausted: Date.now() > deadline };
}

function stepsOf(plan: RunPlan, lane: number) {
  return plan.lanes[lane]?.steps ?? [];
}

function withSteps(plan: RunPlan, lane: number, steps: LanePlan['steps']): RunPlan {
  return { lanes: plan.lanes.map((l, i) => (i === lane ? { ...l, steps } : l)) };
}

/** A violation without what differs between runs: where it happened, ids, tags, numbers. */
export function violationKind(violation: string): string {
  return (
    violation
      .replace(/^lane \d+ \([^)]*\) step \d+: /, '')
      // The step's other messages and the diagnostics in brackets vary while the violation is the same.
      .replace(/(without an ending meant for it):.*$/s, '$1')
      .replace(/ \[[^\]]*\]/g, '')
      .replace(/sha256:[0-9a-f]+|\b[0-9a-f]{12}\b|sim\/[^\s),]+|snapshot:[^\s),]+|#\d+|\d+/g, '*')
  );
}
