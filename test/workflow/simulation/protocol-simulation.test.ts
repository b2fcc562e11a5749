// A model-based simulation of the snapshot protocol (issue 17): random sequences of registrations,
// links, merges, invalidations, evictions, uses, lookups, cancels, time, worker restarts and
// engine faults, several work items at once and several messages of a step at once, against the
// real snapshot workflow on the time-skipping test server, with the real Docker activities over
// simulated engines. After every step the lane's model checks what must hold (sim-model.ts); at the
// end of every run the disk and the replayed histories are checked (sim-run.ts).
//
// Why plain-data plans with fast-check's asyncProperty instead of fc.commands: a step here is a
// batch sent concurrently, and several work items run at once against one server; a plan of plain
// data expresses both, shrinks the same way (fast-check shrinks the arrays), prints as JSON, and a
// counterexample stays replayable as it is when the generators change, which fc.commands' replay
// path would not.
//
// SNAPKEEPER_SIM_STEPS (actions in total, 10,000), SNAPKEEPER_SIM_SEED, SNAPKEEPER_SIM_LANES (8).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunPlan } from './sim-actions.js';
import { runPlanArbitrary } from './sim-actions.js';
import { runPlan } from './sim-run.js';
import { SimSystem } from './sim-system.js';

const TARGET_ACTIONS = Number(process.env.SNAPKEEPER_SIM_STEPS ?? 10_000);
const BASE_SEED = Number(process.env.SNAPKEEPER_SIM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const LANES = Number(process.env.SNAPKEEPER_SIM_LANES ?? 8);
/** Steps per lane at most; a step holds 1.8 actions on average. */
const MAX_STEPS = 60;
const EXPECTED_ACTIONS_PER_RUN = LANES * (MAX_STEPS / 2) * 1.8;
/** The engines answer after 0 to this many milliseconds. */
const ENGINE_LATENCY_MS = 3;
/** Times a recorded counterexample is replayed: its race may need a few tries to happen. */
const REPLAYS = 3;

const COUNTEREXAMPLES = join(import.meta.dirname, 'counterexamples');
const log = (message: string) => process.stderr.write(`[simulation] ${message}\n`);

interface Counterexample {
  name: string;
  /** What it broke when it was found, and on which code. */
  found: string;
  plan: RunPlan;
}

/**
 * Not yet part of `npm test`: on the time-skipping server, time passing among busy lanes, worker
 * restarts (sticky queues of a stopped worker) and replay on every task (an update-acceptance
 * ordering the SDK rejects on replay) still stall or fail runs for reasons of the harness and the
 * test server, not yet told apart from defects. Run it with SNAPKEEPER_SIM=1.
 */
const ENABLED = process.env.SNAPKEEPER_SIM === '1';

let system: SimSystem;

describe.runIf(ENABLED)('the snapshot protocol keeps its promises under random interleavings', () => {
  beforeAll(async () => {
    system = await SimSystem.start(ENGINE_LATENCY_MS);
  }, 120_000);

  afterAll(async () => {
    await system?.teardown();
  });

  it(`holds over ${TARGET_ACTIONS} random actions (seed ${BASE_SEED})`, async () => {
    const started = Date.now();
    let actions = 0;
    let steps = 0;
    let runs = 0;
    let failing: { plan: RunPlan; violations: string[] } | undefined;
    for (let round = 0; actions < TARGET_ACTIONS; round++) {
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
            log(`run ${runs}: ${report.actions} actions in ${report.steps} steps, ${report.ms} ms`);
            for (const v of report.violations.slice(0, 3)) log(`  violation: ${v}`);
            if (report.violations.length > 0) {
              failing = { plan, violations: report.violations };
              throw new Error(report.violations.join('\n'));
            }
          }),
          { seed, numRuns, endOnFailure: false },
        );
      } catch (err) {
        if (failing) record(failing, seed);
        throw err;
      }
    }
    const seconds = (Date.now() - started) / 1000;
    log(
      `${actions} actions in ${steps} steps over ${runs} runs, ${system.restarts} worker restarts: ` +
        `${seconds.toFixed(1)} s (${(actions / seconds).toFixed(0)} actions/s), seed ${BASE_SEED}`,
    );
    expect(actions).toBeGreaterThanOrEqual(TARGET_ACTIONS);
  }, 900_000);

  describe('every counterexample stays fixed', () => {
    const files = existsSync(COUNTEREXAMPLES) ? readdirSync(COUNTEREXAMPLES) : [];
    for (const file of files.filter((f) => f.endsWith('.json')).sort()) {
      const example = JSON.parse(readFileSync(join(COUNTEREXAMPLES, file), 'utf8')) as Counterexample;
      it(`${file}: ${example.name}`, async () => {
        for (let i = 0; i < REPLAYS; i++) {
          const report = await runPlan(system, example.plan);
          expect(report.violations, `found: ${example.found}`).toEqual([]);
        }
      }, 300_000);
    }
  });
});

/** The smallest failing plan fast-check reached: printed, and written where it can be kept. */
function record(failing: { plan: RunPlan; violations: string[] }, seed: number): void {
  const path = join(tmpdir(), `snapkeeper-counterexample-${seed}-${Date.now()}.json`);
  const example: Counterexample = {
    name: failing.violations[0]?.slice(0, 120) ?? 'violation',
    found: `seed ${seed}: ${failing.violations.join(' | ')}`,
    plan: failing.plan,
  };
  writeFileSync(path, `${JSON.stringify(example, null, 2)}\n`);
  log(`counterexample (keep it in ${COUNTEREXAMPLES}): ${path}\n${JSON.stringify(failing.plan)}`);
}
