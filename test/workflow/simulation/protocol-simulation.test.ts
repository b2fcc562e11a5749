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
// costs about the same whatever its size, and lanes waiting out "time passing" overlap with the
// busy ones. Work items of one run are independent, so a failure shrinks to the lanes that matter.
//
// SNAPKEEPER_SIM_STEPS (actions in total, 10,000), SNAPKEEPER_SIM_SEED, SNAPKEEPER_SIM_LANES (24).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunPlan } from './sim-actions.js';
import { KNOWN_DEFECT_EXCLUSIONS, actionCount, runPlanArbitrary } from './sim-actions.js';
import type { RunReport } from './sim-run.js';
import { runPlan } from './sim-run.js';
import { shrinkPlan } from './sim-shrink.js';
import { SimSystem } from './sim-system.js';

const TARGET_ACTIONS = Number(process.env.SNAPKEEPER_SIM_STEPS ?? 10_000);
const BASE_SEED = Number(process.env.SNAPKEEPER_SIM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const LANES = Number(process.env.SNAPKEEPER_SIM_LANES ?? 24);
/** Steps per lane at most; a step holds 1.8 actions on average. */
const MAX_STEPS = 60;
const EXPECTED_ACTIONS_PER_RUN = LANES * (MAX_STEPS / 2) * 1.8;
/** The engines answer after 0 to this many milliseconds. */
const ENGINE_LATENCY_MS = 3;
/** Times a recorded counterexample is replayed: its race may need a few tries to happen. */
const REPLAYS = 3;
/** A known-failing one is replayed until its race happens, at most this often (an expected failure). */
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

const examples = (existsSync(COUNTEREXAMPLES) ? readdirSync(COUNTEREXAMPLES) : [])
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({
    file,
    example: JSON.parse(readFileSync(join(COUNTEREXAMPLES, file), 'utf8')) as Counterexample,
  }));

/** The known, unfixed defect all these violations show, if there is one. */
function knownDefect(violations: string[]): { file: string; example: Counterexample } | undefined {
  return examples.find(({ example }) => {
    if (!example.knownFailing || !example.signature) return false;
    const signature = new RegExp(example.signature);
    return violations.length > 0 && violations.every((v) => signature.test(v));
  });
}

let system: SimSystem;

/**
 * Not yet in `npm test` by default (SNAPKEEPER_SIM=1 runs it): the first full run (seed 1429829804,
 * 2026-12-07) failed at its first run with an image that stopped being current on a merge of a pull
 * request it was not linked to, which 21 shrink runs did not reproduce; until that is told apart from
 * an error of the model, it would fail `npm test` at random. docs/reliability.md has the details.
 */
const ENABLED = process.env.SNAPKEEPER_SIM === '1';

describe.runIf(ENABLED)('the snapshot protocol keeps its promises under random interleavings', () => {
  beforeAll(async () => {
    system = await SimSystem.start(ENGINE_LATENCY_MS);
  }, 120_000);

  afterAll(async () => {
    await system?.teardown();
  }, 120_000);

  it(`holds over ${TARGET_ACTIONS} random actions (seed ${BASE_SEED})`, async () => {
    log(
      `seed ${BASE_SEED} (again: SNAPKEEPER_SIM_SEED=${BASE_SEED}), ${TARGET_ACTIONS} actions, ${LANES} lanes`,
    );
    for (const x of KNOWN_DEFECT_EXCLUSIONS)
      log(`KNOWN DEFECT: left out of random runs until ${x.counterexample} passes: ${x.excludes}`);
    const started = Date.now();
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
      const numRuns = Math.max(1, Math.ceil((TARGET_ACTIONS - actions) / EXPECTED_ACTIONS_PER_RUN));
      log(`round ${round}: seed ${seed}, ${numRuns} runs of ${LANES} work items`);
      try {
        await fc.assert(
          fc.asyncProperty(runPlanArbitrary(LANES, MAX_STEPS), async (plan) => {
            const report = await runPlan(system, plan);
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
          { seed, numRuns, endOnFailure: true },
        );
      } catch (err) {
        const failing = lastFailing();
        if (!failing) throw err;
        const defect = knownDefect(failing.report.violations);
        if (defect) {
          known.push(`seed ${seed}: ${defect.file}`);
          log(`KNOWN DEFECT ${defect.file} again (seed ${seed}): ${defect.example.knownFailing ?? ''}`);
          continue;
        }
        const shrunk = await shrinkPlan(
          failing.plan,
          failing.report,
          (plan) => runPlan(system, plan),
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
    if (known.length > 0) log(`KNOWN DEFECTS seen again, not failing this test: ${known.join('; ')}`);
    log(
      `${actions} actions in ${steps} steps over ${runs} runs, ${system.restarts} worker restarts: ` +
        `${seconds.toFixed(1)} s (${(actions / seconds).toFixed(0)} actions/s), seed ${BASE_SEED}`,
    );
    expect(actions).toBeGreaterThanOrEqual(TARGET_ACTIONS);
  }, 900_000);

  describe('every counterexample stays fixed', () => {
    for (const { file, example } of examples) {
      const replay = async () => {
        for (let i = 0; i < (example.knownFailing ? KNOWN_FAILING_REPLAYS : REPLAYS); i++) {
          const report = await runPlan(system, example.plan);
          log(
            `${file}: replay ${i + 1}, ${actionCount(example.plan)} actions, ${report.violations.length} violations ${report.violations.join(' | ')}`,
          );
          expect(report.violations, `found: ${example.found}`).toEqual([]);
        }
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
