// A model-based simulation of the snapshot protocol (issue 17): random sequences of registrations,
// links, merges, invalidations, evictions, uses, lookups, cancels, time, worker restarts and
// engine faults, many work items at once and several messages of a step at once, against the
// real snapshot workflow on a Temporal dev server of its own, with the real Docker activities over
// simulated engines. After every step the lane's model checks what must hold (sim-model.ts); at the
// end of every run the disk and the replayed histories are checked (sim-run.ts). Why the dev server
// and real (scaled) time rather than the time-skipping server: sim-system.ts and sim-clock.ts.
//
// Why plain-data plans with fast-check's asyncProperty instead of fc.commands: a step here is a
// batch sent concurrently, and several work items run at once against one server; a plan of plain
// data expresses both, prints as JSON, shrinks by plain edits (sim-shrink.ts), and a counterexample
// stays replayable as it is when the generators change, which fc.commands' replay path would not.
//
// Few, large runs: each run's set-up and end (every workflow ended, histories fetched and replayed)
// costs about the same whatever its size. A run holds as many work items ("lanes") as the actions
// still to do call for, and drives a fixed number of them at once (a lane that finishes hands its
// place to the next), so the server stays equally busy to the end. Work items of one run are
// independent, so a failure shrinks to the lanes that matter.
//
// SNAPKEEPER_SIM_STEPS (actions in total, 10,000), SNAPKEEPER_SIM_SEED, SNAPKEEPER_SIM_LANES (work
// items driven at once, 24).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunPlan } from './sim-actions.js';
import { KNOWN_RACES } from './known-races.js';
import { KNOWN_DEFECT_EXCLUSIONS, actionCount, runPlanArbitrary } from './sim-actions.js';
import type { RunReport } from './sim-run.js';
import { runPlan } from './sim-run.js';
import { shrinkPlan } from './sim-shrink.js';
import { SimSystem } from './sim-system.js';

const TARGET_ACTIONS = Number(process.env.SNAPKEEPER_SIM_STEPS ?? 10_000);
const BASE_SEED = Number(process.env.SNAPKEEPER_SIM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const LANES_AT_ONCE = Number(process.env.SNAPKEEPER_SIM_LANES ?? 24);
/** Steps per lane at most. */
const MAX_STEPS = 60;
/**
 * Actions a lane holds on average (measured: 39 to 45; up to 60 steps of 1.8 actions, fewer steps
 * more often): how many lanes a run needs. Short by a few, a round of the remainder follows.
 */
const ACTIONS_PER_LANE = 42;
/** The engines answer after 0 to this many milliseconds. */
const ENGINE_LATENCY_MS = 3;
/** Times a recorded counterexample is replayed (at once): its race may need a few tries to happen. */
const REPLAYS = 3;
/** A known-failing one is replayed this often, at once: its race must happen in one (an expected failure). */
const KNOWN_FAILING_REPLAYS = 6;
/** Shrinking runs plans again; past this, the smallest failing plan reached by then is reported. */
const SHRINK_BUDGET_MS = 120_000;

const COUNTEREXAMPLES = join(import.meta.dirname, 'counterexamples');
const log = (message: string) => process.stderr.write(`[simulation] ${message}\n`);

interface Counterexample {
  name: string;
  /** What it broke when it was found, and on which code. */
  found: string;
  /**
   * Set while the defect it shows is not fixed yet: why, and who has it. The case then runs as an
   * expected failure (vitest's `it.fails`), named KNOWN FAILING, and fails the suite once it passes
   * (so the mark is removed with the fix).
   */
  knownFailing?: string;
  /**
   * With knownFailing: a regular expression every violation of this defect matches. A random run
   * whose violations all match it reports the defect again (KNOWN DEFECT, with the seed) and goes
   * on instead of failing `npm test` for a defect already routed; any other violation still fails.
   */
  signature?: string;
  plan: RunPlan;
}

// SNAPKEEPER_SIM_PLAN=path replays one more plan file among the counterexamples (for instance one
// kept under unexplained/, to diagnose it), without making it a kept case.
const examples = [
  ...(existsSync(COUNTEREXAMPLES) ? readdirSync(COUNTEREXAMPLES) : [])
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => join(COUNTEREXAMPLES, file)),
  ...(process.env.SNAPKEEPER_SIM_PLAN ? [process.env.SNAPKEEPER_SIM_PLAN] : []),
].map((path) => ({
  file: basename(path),
  example: JSON.parse(readFileSync(path, 'utf8')) as Counterexample,
}));

/** The known, unfixed defect all these violations show, if there is one: a counterexample or a race. */
function knownDefect(violations: string[]): { file: string; knownFailing: string } | undefined {
  const all = (signature: RegExp) => violations.length > 0 && violations.every((v) => signature.test(v));
  const example = examples.find(
    ({ example }) => example.knownFailing && example.signature && all(new RegExp(example.signature)),
  );
  if (example) return { file: example.file, knownFailing: example.example.knownFailing ?? '' };
  const race = KNOWN_RACES.find((r) => all(r.signature));
  return race ? { file: 'known-races.ts', knownFailing: race.knownFailing } : undefined;
}

/**
 * Races left out of random runs: those whose counterexample is still known failing. A fixed
 * defect's race (its mark removed) is generated again.
 */
const exclusions = KNOWN_DEFECT_EXCLUSIONS.filter((x) =>
  examples.some(({ file, example }) => file === x.counterexample && example.knownFailing),
);

let system: SimSystem;

/**
 * The random run is not in `npm test` by default (SNAPKEEPER_SIM=1 runs it; the kept
 * counterexamples below always run). With a workflow cache it meets an SDK defect (a query task
 * that runs a timer's activation ahead of the next task's update: histories that do not replay,
 * and with them the CI rehearsal's "acknowledged, then ended" line and a leak); without one (the
 * simulation's default since) it is about 3.3 times slower, some 14 minutes for 10,000 actions on
 * the 2-core machine. docs/reliability.md, "A query between a timer and an update".
 */
const RANDOM_RUN = process.env.SNAPKEEPER_SIM === '1';

describe('the snapshot protocol keeps its promises under random interleavings', () => {
  beforeAll(async () => {
    system = await SimSystem.start(ENGINE_LATENCY_MS);
  }, 120_000);

  afterAll(async () => {
    await system?.teardown();
  }, 120_000);

  it.runIf(RANDOM_RUN)(
    `holds over ${TARGET_ACTIONS} random actions (seed ${BASE_SEED})`,
    async () => {
      log(
        `seed ${BASE_SEED} (again: SNAPKEEPER_SIM_SEED=${BASE_SEED} SNAPKEEPER_SIM_STEPS=${TARGET_ACTIONS}), ` +
          `${TARGET_ACTIONS} actions, ${LANES_AT_ONCE} work items at once`,
      );
      for (const x of exclusions)
        log(`KNOWN DEFECT: left out of random runs until ${x.counterexample} passes: ${x.excludes}`);
      for (const { file, example } of examples.filter(({ example }) => example.knownFailing))
        log(`KNOWN FAILING counterexample ${file}: ${example.knownFailing ?? ''}`);
      for (const race of KNOWN_RACES)
        log(`KNOWN DEFECT (a race, reported and topped up if seen): ${race.knownFailing}`);
      const started = Date.now();
      const cpuBefore = system.cpuSeconds();
      let actions = 0;
      let steps = 0;
      let runs = 0;
      // Set by the property (a closure), read after fc.assert threw (through a call: the reset at
      // the top of each round would otherwise narrow it to undefined for the type checker).
      const caught: { failing?: { plan: RunPlan; report: RunReport } } = {};
      const lastFailing = () => caught.failing;
      const known: string[] = [];
      for (let round = 0; actions < TARGET_ACTIONS; round++) {
        caught.failing = undefined;
        const seed = BASE_SEED + round;
        // One run per round, as large as the actions still to do: a second round only tops up.
        const lanes = Math.max(1, Math.ceil((TARGET_ACTIONS - actions) / ACTIONS_PER_LANE));
        log(`round ${round}: seed ${seed}, a run of ${lanes} work items, ${LANES_AT_ONCE} at once`);
        try {
          await fc.assert(
            fc.asyncProperty(runPlanArbitrary(lanes, MAX_STEPS, exclusions), async (plan) => {
              const report = await runPlan(system, plan, LANES_AT_ONCE);
              runs += 1;
              actions += report.actions;
              steps += report.steps;
              log(
                `run ${runs}: ${report.actions} actions in ${report.steps} steps of ${plan.lanes.length} lanes, ` +
                  `${report.ms} ms (steps ${report.stepsMs} ms, end and checks ${report.endMs} ms)`,
              );
              for (const v of report.violations.slice(0, 3)) log(`  violation: ${v}`);
              if (report.violations.length > 0) {
                caught.failing = { plan, report };
                throw new Error(report.violations.join('\n'));
              }
            }),
            // No shrinking by fast-check: sim-shrink.ts does it, below.
            { seed, numRuns: 1, endOnFailure: true },
          );
        } catch (err) {
          const failing = lastFailing();
          if (!failing) throw err;
          const defect = knownDefect(failing.report.violations);
          if (defect) {
            known.push(`seed ${seed}: ${defect.file}`);
            log(`KNOWN DEFECT ${defect.file} again (seed ${seed}): ${defect.knownFailing}`);
            for (const v of failing.report.violations) log(`  known: ${v}`);
            continue;
          }
          const shrunk = await shrinkPlan(
            failing.plan,
            failing.report,
            (plan) => runPlan(system, plan, LANES_AT_ONCE),
            SHRINK_BUDGET_MS,
            log,
          );
          const path = record(shrunk.plan, shrunk.violations, seed);
          throw new Error(
            `seed ${seed} (round ${round} of base seed ${BASE_SEED}) failed; shrunk in ${shrunk.tries} runs` +
              `${shrunk.exhausted ? ' (shrink budget spent)' : ''} to ${actionCount(shrunk.plan)} actions, ` +
              `kept in ${path}:\n${shrunk.violations.join('\n')}`,
          );
        }
      }
      const seconds = (Date.now() - started) / 1000;
      const cpu = system.cpuSeconds();
      if (known.length > 0) log(`KNOWN DEFECTS seen again, not failing this test: ${known.join('; ')}`);
      log(
        `${actions} actions in ${steps} steps over ${runs} runs, ${system.restarts} worker restarts: ` +
          `${seconds.toFixed(1)} s (${(actions / seconds).toFixed(0)} actions/s), seed ${BASE_SEED}; ` +
          `CPU: server ${(cpu.server - cpuBefore.server).toFixed(1)} s, test process ${(cpu.test - cpuBefore.test).toFixed(1)} s`,
      );
      expect(actions).toBeGreaterThanOrEqual(TARGET_ACTIONS);
    },
    900_000,
  );

  describe('every counterexample stays fixed', () => {
    for (const { file, example } of examples) {
      // The replays run at the same time (each is a run of its own, with its own work items): a
      // few seconds for all instead of each.
      const replay = async () => {
        const times = example.knownFailing ? KNOWN_FAILING_REPLAYS : REPLAYS;
        const reports = await Promise.all(
          Array.from({ length: times }, () => runPlan(system, example.plan, LANES_AT_ONCE)),
        );
        for (const [i, report] of reports.entries()) {
          log(
            `${file}: replay ${i + 1}, ${actionCount(example.plan)} actions, ${report.violations.length} violations ${report.violations.join(' | ')}`,
          );
        }
        for (const report of reports) expect(report.violations, `found: ${example.found}`).toEqual([]);
      };
      if (example.knownFailing) {
        it.fails(
          `KNOWN FAILING ${file}: ${example.name} (${example.knownFailing})`,
          async () => {
            log(`KNOWN FAILING ${file}: ${example.knownFailing}`);
            await replay();
          },
          300_000,
        );
      } else {
        it(`${file}: ${example.name}`, replay, 300_000);
      }
    }
  });
});

/** The shrunk failing plan: printed, and written where it can be kept. Answers the file. */
function record(plan: RunPlan, violations: string[], seed: number): string {
  const path = join(tmpdir(), `snapkeeper-counterexample-${seed}-${Date.now()}.json`);
  const example: Counterexample = {
    name: violations[0]?.slice(0, 120) ?? 'violation',
    found: `seed ${seed}: ${violations.join(' | ')}`,
    plan,
  };
  writeFileSync(path, `${JSON.stringify(example, null, 2)}\n`);
  log(`counterexample (keep it in ${COUNTEREXAMPLES}): ${path}\n${JSON.stringify(plan)}`);
  return path;
}
