// What the simulation does to one work item (a lane), as plain data: fast-check generates it,
// shrinks it, prints it, and a counterexample is kept as JSON and replayed as it is. A step is
// one action or a batch of them sent at once, without waiting between them; what each action
// names (an image, the current one, a stale one) is resolved against the lane's model when the
// step runs, so a recorded step means the same thing when it is replayed.
import fc from 'fast-check';

/** Which image a registration names: a new commit, a child of the current one, the current one
 * again, the current one's parent (a rollback), or an earlier commit of the lane. */
export type ImageChoice = 'new' | 'child' | 'same' | 'parent' | 'old';
/** What a scoped message names: the current image, another image of the lane, or nothing. */
export type Scope = 'current' | 'stale' | 'none';

export type Action =
  | {
      kind: 'register';
      image: ImageChoice;
      by: 'tag' | 'id';
      host: number;
      pr: number | null;
      ttlHours: number;
      sliding: boolean;
      declared: boolean;
      pick: number;
    }
  | { kind: 'link'; pr: number }
  | { kind: 'merge'; pr: number; delivery: number; match: 'link' | 'branch' }
  | { kind: 'invalidate'; scope: Scope; via: 'signal' | 'update' }
  | { kind: 'evict'; scope: Scope }
  | { kind: 'use'; via: 'touch' | 'used'; scope: Scope }
  | { kind: 'lookup' }
  | { kind: 'cancel' }
  | { kind: 'time'; minutes: number }
  | { kind: 'restart' }
  | { kind: 'engine-down'; host: number; calls: number }
  | { kind: 'container'; op: 'start' | 'stop' }
  | { kind: 'vanish'; scope: 'current' | 'stale' }
  | { kind: 'foreign-tag'; scope: 'current' | 'stale' };

export type Step = Action[];

/** One work item's part of a run: its options and its steps. */
export interface LanePlan {
  /** The workflow's continueAsNewAfterEvents: small, so runs continue as new often. */
  continueAsNewAfterEvents: number;
  steps: Step[];
}

/** A run: work items driven at the same time against one server, one set of engines. */
export interface RunPlan {
  lanes: LanePlan[];
}

/** Pull requests per lane: few, so links, merges and registrations meet on the same ones. */
const PULL_REQUESTS = 3;

const pr = fc.integer({ min: 1, max: PULL_REQUESTS });
const host = fc.constantFrom(0, 0, 0, 1);
const scope = fc.constantFrom<Scope>('current', 'current', 'stale', 'none');

const register = fc.record({
  kind: fc.constant('register' as const),
  image: fc.constantFrom<ImageChoice>('new', 'new', 'child', 'same', 'parent', 'old'),
  by: fc.constantFrom<'tag' | 'id'>('tag', 'tag', 'id'),
  host,
  pr: fc.option(pr, { freq: 2 }),
  ttlHours: fc.constantFrom(1, 6, 24),
  sliding: fc.boolean(),
  declared: fc.boolean(),
  pick: fc.nat({ max: 7 }),
});

/** Messages a lane's callers send; weighted towards what the protocol is about. */
const message: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: register, weight: 8 },
  { arbitrary: fc.record({ kind: fc.constant('link' as const), pr }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('merge' as const),
      pr,
      delivery: fc.nat({ max: 3 }),
      match: fc.constantFrom<'link' | 'branch'>('link', 'link', 'link', 'branch'),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('invalidate' as const),
      scope,
      via: fc.constantFrom<'signal' | 'update'>('signal', 'update'),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('evict' as const), scope }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('use' as const),
      via: fc.constantFrom<'touch' | 'used'>('touch', 'used'),
      scope,
    }),
    weight: 2,
  },
  { arbitrary: fc.constant<Action>({ kind: 'lookup' }), weight: 2 },
  { arbitrary: fc.constant<Action>({ kind: 'cancel' }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('container' as const),
      op: fc.constantFrom<'start' | 'stop'>('start', 'stop'),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('foreign-tag' as const),
      scope: fc.constantFrom<'current' | 'stale'>('current', 'stale'),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('vanish' as const),
      scope: fc.constantFrom<'current' | 'stale'>('current', 'stale'),
    }),
    weight: 1,
  },
);

/** Happenings around the lane, rarer: time passing, a worker restart, an engine going down. */
const happening: fc.Arbitrary<Action> = fc.oneof(
  {
    // Model minutes (sim-clock.ts: an hour is a real second, a day four): past nothing, past the 1-hour TTLs,
    // past the 6-hour ones, past every TTL. The long ones are rare: a lane waits them out for real.
    arbitrary: fc.record({
      kind: fc.constant('time' as const),
      minutes: fc.oneof(
        { arbitrary: fc.constantFrom(5, 50, 61), weight: 6 },
        { arbitrary: fc.constant(7 * 60), weight: 2 },
        { arbitrary: fc.constant(25 * 60), weight: 1 },
      ),
    }),
    weight: 3,
  },
  { arbitrary: fc.constant<Action>({ kind: 'restart' }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('engine-down' as const),
      host,
      calls: fc.integer({ min: 1, max: 2 }),
    }),
    weight: 1,
  },
);

const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: message, weight: 12 },
  { arbitrary: happening, weight: 1 },
);

/**
 * Races left out of random runs while the defect they hit is not fixed, each with the kept
 * counterexample that shows it (it still runs, as KNOWN FAILING). Left out rather than masked:
 * every invariant stays checked in full on everything else. An entry applies only while its
 * counterexample carries `knownFailing` (protocol-simulation.test.ts): removing the mark with the
 * fix brings the race back into random runs at once; the entry itself can go then too.
 */
export const KNOWN_DEFECT_EXCLUSIONS: readonly {
  counterexample: string;
  excludes: string;
  batch(step: Step): boolean;
}[] = [
  {
    counterexample: 'link-refused-while-aside-keeps-merged-link.json',
    excludes: 'a link sent in the same batch as a registration',
    batch: (step) => step.some((a) => a.kind === 'link') && step.some((a) => a.kind === 'register'),
  },
];

type Exclusion = (typeof KNOWN_DEFECT_EXCLUSIONS)[number];

/**
 * A step: mostly one action, often a batch of two to four sent concurrently; never a batch one of
 * the exclusions names (the caller passes those whose counterexample is still known failing).
 */
export function stepArbitrary(exclusions: readonly Exclusion[] = []): fc.Arbitrary<Step> {
  return fc.oneof(
    { arbitrary: action.map((a) => [a]), weight: 3 },
    {
      arbitrary: fc
        .array(message, { minLength: 2, maxLength: 4 })
        .filter((step) => !exclusions.some((x) => x.batch(step))),
      weight: 2,
    },
  );
}

export function lanePlanArbitrary(
  maxSteps: number,
  exclusions: readonly Exclusion[] = [],
): fc.Arbitrary<LanePlan> {
  return fc.record({
    continueAsNewAfterEvents: fc.constantFrom(40, 80, 300),
    steps: fc.array(stepArbitrary(exclusions), { minLength: 1, maxLength: maxSteps, size: 'max' }),
  });
}

export function runPlanArbitrary(
  lanes: number,
  maxSteps: number,
  exclusions: readonly Exclusion[] = [],
): fc.Arbitrary<RunPlan> {
  return fc.record({
    lanes: fc.array(lanePlanArbitrary(maxSteps, exclusions), { minLength: lanes, maxLength: lanes }),
  });
}

export function actionCount(plan: RunPlan): number {
  return plan.lanes.reduce((n, lane) => n + lane.steps.reduce((m, s) => m + s.length, 0), 0);
}
