// One run of the simulation: its lanes (work items) step through their plans at the same time on
// one server and one set of engines; then every workflow is brought to its end, and the run is
// checked whole: every acknowledged image left the disk unless kept (invariant 3), and every
// history replays on the same bundle without a failed workflow task (invariant 5).
import { setTimeout as delay } from 'node:timers/promises';
import { LABEL_WORK_ITEM, keptTag } from '../../../src/contract/names.js';
import { invalidateSignal } from '../../../src/contract/messages.js';
import { isOwnTag } from './fake-engine.js';
import type { RunPlan } from './sim-actions.js';
import { Lane } from './sim-lane.js';
import type { SimSystem } from './sim-system.js';
import { SIM_HOSTS, failedWorkflowTasks } from './sim-system.js';

export interface RunReport {
  steps: number;
  actions: number;
  violations: string[];
  /** The lanes the violations name (every lane when none is named): where a shrink starts. */
  implicated: number[];
  ms: number;
  /** Of `ms`: the lanes' steps, then the end of the run and its checks. */
  stepsMs: number;
  endMs: number;
}

/** Every workflow of a run ends within this once its images are told to go. */
const QUIESCE_WITHIN_MS = 60_000;

let runs = 0;

/**
 * Runs a plan: at most `concurrency` lanes step at once (all of them when omitted); a lane that
 * finishes hands its place to the next one of the plan. A fixed number of busy lanes keeps the
 * server as loaded at the end of a run as at its start (with every lane started at once, most of a
 * run's second half waited on its few longest lanes), so one run can hold many lanes, and the end
 * of a run and its checks are paid once for all of them.
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
  let next = 0;
  const drive = async (): Promise<void> => {
    for (let i = next++; i < lanes.length && !failed; i = next++) {
      const lane = lanes[i] as Lane;
      const lanePlan = plan.lanes[i];
      if (!lanePlan) continue;
      for (const [n, step] of lanePlan.steps.entries()) {
        if (failed) return;
        const found = await lane.step(step).catch((err: unknown) => [`step threw: ${describeError(err)}`]);
        steps += 1;
        actions += step.length;
        if (found.length > 0) {
          failed = true;
          violations.push(...found.map((v) => `lane ${i} (${lane.workflowId}) step ${n}: ${v}`));
        }
      }
    }
  };
  const width = Math.max(1, Math.min(concurrency ?? lanes.length, lanes.length));
  await Promise.all(Array.from({ length: width }, drive));
  const ofRun = (v: { what: string; workItem: string }) =>
    v.workItem === '' || lanes.some((l) => l.model.workItemId === v.workItem);
  violations.push(
    ...system.engines.violations.filter(ofRun).map((v) => `engine: ${v.what} (work item ${v.workItem})`),
  );
  const ended = Date.now();
  if (violations.length === 0) violations.push(...(await endAndCheck(system, lanes)));
  else {
    violations.push(...failedWorkflowTasks(await system.histories(runsOf(lanes))));
    // Not checked, but ended, so a failed run's workflows do not keep the server busy meanwhile.
    await Promise.all(lanes.map((lane) => endLane(system, lane)));
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
    stepsMs: ended - started,
    endMs: Date.now() - ended,
  };
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

async function endAndCheck(system: SimSystem, lanes: Lane[]): Promise<string[]> {
  const violations: string[] = [];
  system.engines.heal();
  for (const lane of lanes) lane.model.containers.length = 0;
  await Promise.all(lanes.map((lane) => endLane(system, lane)));
  // Each workflow's close is awaited with one long poll (its result, following continue-as-new),
  // not by polling describe: a hundred lanes polling kept the server busy with nothing else.
  const timeout = new AbortController();
  const deadline = delay(QUIESCE_WITHIN_MS, 'deadline' as const, { signal: timeout.signal }).catch(
    () => 'deadline' as const,
  );
  await Promise.all(
    lanes.map(async (lane) => {
      if (!lane.model.started) return;
      const handle = system.client.workflow.getHandle(lane.workflowId);
      const closed = handle.result().then(
        () => 'closed' as const,
        () => 'closed' as const,
      );
      if ((await Promise.race([closed, deadline])) === 'deadline') {
        violations.push(
          `${lane.workflowId} still running ${QUIESCE_WITHIN_MS} ms after its images were told to go`,
        );
        return;
      }
      const status = (await handle.describe()).status.name;
      if (status === 'FAILED' || status === 'TERMINATED' || status === 'TIMED_OUT') {
        violations.push(`${lane.workflowId} ended ${status}`);
      }
    }),
  );
  timeout.abort();
  violations.push(...leftOnDisk(system, lanes));
  const histories = await system.histories(runsOf(lanes));
  violations.push(...failedWorkflowTasks(histories));
  violations.push(...(await system.replay(histories)));
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
