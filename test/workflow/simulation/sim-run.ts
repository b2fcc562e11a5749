// One run of the simulation: its lanes (work items) step through their plans on one server and one
// set of engines, a fixed number of them at once. Each lane, once through its steps, is brought to
// its end and checked whole while the others go on: every acknowledged image left the disk unless
// kept (invariant 3), and every history of its workflow replays on the same bundle without a failed
// workflow task (invariant 5).
import { setTimeout as delay } from 'node:timers/promises';
import { LABEL_WORK_ITEM, keptTag } from '../../../src/contract/names.js';
import { invalidateSignal } from '../../../src/contract/messages.js';
import { isOwnTag } from './fake-engine.js';
import type { RunPlan } from './sim-actions.js';
import { Lane } from './sim-lane.js';
import type { RunHistory, SimSystem } from './sim-system.js';
import { SIM_HOSTS, failedWorkflowTasks } from './sim-system.js';

export interface RunReport {
  steps: number;
  actions: number;
  violations: string[];
  /** The lanes the violations name (every lane when none is named): where a shrink starts. */
  implicated: number[];
  ms: number;
  /** Of `ms`: until the last lane's last step, then the end of the last lanes and their checks. */
  stepsMs: number;
  endMs: number;
}

/** Every workflow of a run ends within this once its images are told to go. */
const QUIESCE_WITHIN_MS = 60_000;

let runs = 0;

/**
 * Runs a plan: at most `concurrency` lanes step at once (all of them when omitted); a lane through
 * its steps hands its place to the next one of the plan, and is ended and checked meanwhile. A fixed
 * number of busy lanes keeps the server as loaded at the end of a run as at its start (with every
 * lane started at once, most of a run's second half waited on its few longest lanes), and the ends
 * and checks overlap with the steps instead of following them: one run can hold many lanes.
 */
export async function runPlan(system: SimSystem, plan: RunPlan, concurrency?: number): Promise<RunReport> {
  const started = Date.now();
  runs += 1;
  // Fixed-width ids: no lane's workflow id is a prefix of another's (violations are matched by id).
  const lanes = plan.lanes.map(
    (l, i) => new Lane(system, 'sim', `r${runs}-w${String(i).padStart(3, '0')}`, l),
  );
  const violations: string[] = [];
  let steps = 0;
  let actions = 0;
  let failed = false;
  const finished = new Set<Lane>();
  const ending: Promise<void>[] = [];
  const replays = new ReplayQueue(system);
  const finish = async (lane: Lane): Promise<void> => {
    const found = await endAndCheck(system, lane, replays);
    finished.add(lane);
    if (found.length > 0) {
      failed = true;
      violations.push(...found);
    }
  };
  let next = 0;
  const drive = async (): Promise<void> => {
    for (let i = next++; i < lanes.length && !failed; i = next++) {
      const lane = lanes[i] as Lane;
      const lanePlan = plan.lanes[i];
      if (!lanePlan) continue;
      let clean = true;
      for (const [n, step] of lanePlan.steps.entries()) {
        if (failed) return;
        const found = await lane.step(step).catch((err: unknown) => [`step threw: ${describeError(err)}`]);
        steps += 1;
        actions += step.length;
        if (found.length > 0) {
          failed = true;
          clean = false;
          violations.push(...found.map((v) => `lane ${i} (${lane.workflowId}) step ${n}: ${v}`));
        }
      }
      if (clean) ending.push(finish(lane));
    }
  };
  const width = Math.max(1, Math.min(concurrency ?? lanes.length, lanes.length));
  await Promise.all(Array.from({ length: width }, drive));
  const stepped = Date.now();
  // Every lane is through its steps: no engine goes down any more while the last ones end.
  system.engines.heal();
  await Promise.all(ending);
  violations.push(...(await replays.drained()));
  const ofRun = (v: { what: string; workItem: string }) =>
    v.workItem === '' || lanes.some((l) => l.model.workItemId === v.workItem);
  violations.push(
    ...system.engines.violations.filter(ofRun).map((v) => `engine: ${v.what} (work item ${v.workItem})`),
  );
  const unfinished = lanes.filter((lane) => !finished.has(lane));
  if (unfinished.length > 0) {
    // A failed run: the failed workflow tasks of the lanes not checked yet, and their end, so they
    // do not keep the server busy meanwhile.
    violations.push(...failedWorkflowTasks(await system.histories(runsOf(unfinished))));
    await Promise.all(unfinished.map((lane) => endLane(system, lane)));
  }
  const named = lanes
    .map((lane, i) => ({ lane, i }))
    .filter(({ lane }) =>
      violations.some(
        (v) => v.includes(lane.workflowId) || v.includes(`work item ${lane.model.workItemId})`),
      ),
    )
    .map(({ i }) => i);
  return {
    steps,
    actions,
    violations,
    implicated: named.length > 0 ? named : lanes.map((_, i) => i),
    ms: Date.now() - started,
    stepsMs: stepped - started,
    endMs: Date.now() - stepped,
  };
}

/**
 * Replays histories against the bundle in the background, through one replay worker for the whole
 * run: each lane's histories join the stream as the lane ends.
 */
class ReplayQueue {
  private readonly waiting: RunHistory[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  private readonly done: Promise<string[]>;

  constructor(system: SimSystem) {
    // A replay that throws is a failure to report, like a failed replay.
    this.done = system
      .replay(this.stream())
      .catch((err: unknown) => [`replaying the run's histories threw: ${describeError(err)}`]);
  }

  private async *stream(): AsyncGenerator<RunHistory> {
    for (;;) {
      const next = this.waiting.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  add(histories: RunHistory[]): void {
    this.waiting.push(...histories);
    this.wake?.();
  }

  /** Once every history added is replayed: one line per failed replay. */
  async drained(): Promise<string[]> {
    this.closed = true;
    this.wake?.();
    return await this.done;
  }
}

/** An error with its causes: a client's ServiceError says what went wrong only in its cause. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e !== undefined && depth < 4; depth++) {
    parts.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(' <- ');
}

/** Ends one lane's workflow and checks it whole; its histories join the replay queue. */
async function endAndCheck(system: SimSystem, lane: Lane, replays: ReplayQueue): Promise<string[]> {
  if (!lane.model.started) return [];
  const violations: string[] = [];
  // Its containers go, so nothing of this lane blocks its images' removal any more.
  for (const c of lane.model.containers.splice(0)) system.engines.removeContainer(c.host, c.id);
  await endLane(system, lane);
  // The close is awaited with one long poll (the result, following continue-as-new), not by
  // polling describe: a hundred lanes polling kept the server busy with nothing else.
  const handle = system.client.workflow.getHandle(lane.workflowId);
  const timeout = new AbortController();
  const closed = handle.result().then(
    () => 'closed' as const,
    () => 'closed' as const,
  );
  const deadline = delay(QUIESCE_WITHIN_MS, 'deadline' as const, { signal: timeout.signal }).catch(
    () => 'deadline' as const,
  );
  const outcome = await Promise.race([closed, deadline]);
  timeout.abort();
  if (outcome === 'deadline') {
    violations.push(
      `${lane.workflowId} still running ${QUIESCE_WITHIN_MS} ms after its images were told to go`,
    );
  } else {
    const status = (await handle.describe()).status.name;
    if (status === 'FAILED' || status === 'TERMINATED' || status === 'TIMED_OUT') {
      violations.push(`${lane.workflowId} ended ${status}`);
    }
  }
  violations.push(...leftOnDisk(system, [lane]));
  const histories = await system.histories(runsOf([lane]));
  violations.push(...failedWorkflowTasks(histories));
  replays.add(histories);
  return violations;
}

function runsOf(lanes: Lane[]): Map<string, Set<string>> {
  return new Map(lanes.filter((l) => l.model.started).map((l) => [l.workflowId, l.model.runIds]));
}

/** The end every image is promised: an invalidation, signalled until the workflow closes. */
async function endLane(system: SimSystem, lane: Lane): Promise<void> {
  if (!lane.model.started) return;
  await system.client.workflow
    .getHandle(lane.workflowId)
    .signal(invalidateSignal, { reason: 'the simulation run ends' })
    .catch(() => undefined);
}

/**
 * Invariant 3: an image a workflow acknowledged is gone from the disk once the workflow closed,
 * unless it was kept (its kept marker and a reference someone else made are on it), or an image
 * that may stay still needs its layers (a child never registered, or itself kept).
 */
function leftOnDisk(system: SimSystem, lanes: Lane[]): string[] {
  const violations: string[] = [];
  for (const host of SIM_HOSTS) {
    const images = system.engines.managedImages(host);
    const byId = new Map(images.map((i) => [i.id, i]));
    const mayStay = (id: string, depth = 0): boolean => {
      const info = byId.get(id);
      if (!info || depth > 200) return false;
      const lane = lanes.find((l) => l.model.workItemId === info.labels[LABEL_WORK_ITEM]);
      if (!lane || !lane.model.acknowledged.has(id)) return true;
      // Its child was removed by someone else (rmi -f): no parent walk ran; the reconciler's part.
      if (lane.model.images.some((i) => i.parentId === id && lane.model.vanished.has(i.id))) return true;
      const foreign = info.repoTags.filter((t) => !isOwnTag(t, id) && system.engines.isForeign(host, t));
      if (foreign.length > 0 && info.repoTags.includes(keptTag(id))) return true;
      return system.engines.childrenOf(host, id).some((c) => mayStay(c, depth + 1));
    };
    for (const info of images) {
      const lane = lanes.find((l) => l.model.workItemId === info.labels[LABEL_WORK_ITEM]);
      if (!lane || !lane.model.acknowledged.has(info.id) || mayStay(info.id)) continue;
      violations.push(
        `leak: ${info.id.slice(7, 19)} of ${lane.workflowId} was acknowledged and is still on ${host} ` +
          `(references: ${info.repoTags.join(', ') || 'none'}; children: ${system.engines.childrenOf(host, info.id).length})`,
      );
    }
  }
  return violations;
}
