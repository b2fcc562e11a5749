// One run of the simulation: its lanes (work items) step through their plans at the same time on
// one server and one set of engines; then every workflow is brought to its end, and the run is
// checked whole: every acknowledged image left the disk unless kept (invariant 3), and every
// history replays on the same bundle without a failed workflow task (invariant 5).
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
  ms: number;
}

/** Every workflow of a run ends within this (real time) once its images are told to go. */
const QUIESCE_WITHIN_MS = 90_000;

let runs = 0;

export async function runPlan(system: SimSystem, plan: RunPlan): Promise<RunReport> {
  const started = Date.now();
  runs += 1;
  const lanes = plan.lanes.map((l, i) => new Lane(system, 'sim', `r${runs}-w${i}`, l));
  const violations: string[] = [];
  let steps = 0;
  let actions = 0;
  let failed = false;
  await Promise.all(
    lanes.map(async (lane, i) => {
      const lanePlan = plan.lanes[i];
      if (!lanePlan) return;
      for (const [n, step] of lanePlan.steps.entries()) {
        if (failed) return;
        const found = await lane.step(step).catch((err: unknown) => [`step threw: ${String(err)}`]);
        steps += 1;
        actions += step.length;
        if (found.length > 0) {
          failed = true;
          violations.push(...found.map((v) => `lane ${i} step ${n}: ${v}`));
        }
      }
    }),
  );
  const engineViolations = (v: { what: string; workItem: string }) =>
    v.workItem === '' || lanes.some((l) => l.model.workItemId === v.workItem);
  violations.push(...system.engines.violations.filter(engineViolations).map((v) => `engine: ${v.what}`));
  const ended = Date.now();
  if (violations.length === 0) violations.push(...(await endAndCheck(system, lanes)));
  else violations.push(...failedWorkflowTasks(await system.histories(runsOf(lanes))));
  if (process.env.SNAPKEEPER_SIM_DEBUG)
    process.stderr.write(`[simulation] steps ${ended - started} ms, end ${Date.now() - ended} ms\n`);
  return { steps, actions, violations, ms: Date.now() - started };
}

async function endAndCheck(system: SimSystem, lanes: Lane[]): Promise<string[]> {
  const violations: string[] = [];
  system.engines.heal();
  for (const lane of lanes) lane.model.containers.length = 0;
  await Promise.all(lanes.map((lane) => endLane(system, lane)));
  const deadline = Date.now() + QUIESCE_WITHIN_MS;
  for (const lane of lanes) {
    if (!lane.model.started) continue;
    const handle = system.client.workflow.getHandle(lane.workflowId);
    for (;;) {
      const status = (await handle.describe()).status.name;
      if (status === 'FAILED' || status === 'TERMINATED' || status === 'TIMED_OUT') {
        violations.push(`${lane.workflowId} ended ${status}`);
      }
      if (status !== 'RUNNING') break;
      if (Date.now() > deadline) {
        violations.push(
          `${lane.workflowId} still running ${QUIESCE_WITHIN_MS} ms after its images were told to go`,
        );
        break;
      }
      // Removal backoffs and activity retries are timers: let the server skip ahead.
      await system.sleep(3_600_000);
    }
  }
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
