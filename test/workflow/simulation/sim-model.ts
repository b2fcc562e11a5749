// The reference model of one work item, and what it says must be true after every step. The model
// does not predict which of two racing messages wins; it says which endings a step can explain.
// An image that stops being current needs an ending meant for it among the step's *accepted*
// messages (or its TTL past, or its pull request merged); an image that becomes current needs an
// acknowledged registration; a refused request explains nothing, so a refusal that changed
// anything shows as an unexplained change. Invariants (issue 17):
//   1 a refused request changes nothing;
//   2 a current image is never removed while current (nor its own reference);
//   3 every ended image leaves the disk unless kept (checked at the end of a run, sim-run.ts);
//   4 references snapkeeper does not own are never removed (observed by the engine, fake-engine.ts);
//   5 replay is deterministic (sim-run.ts).
import type { SnapshotState } from '../../../src/contract/snapshot-types.js';
import type { Action } from './sim-actions.js';
import type { FakeEngines } from './fake-engine.js';

export interface LaneImage {
  id: string;
  host: string;
  tag: string;
  parentId: string;
}

/** What happened to one action: accepted, refused with a type, or unknown (no answer). */
export interface Outcome {
  action: Action;
  result: 'ok' | 'refused' | 'unknown' | 'skipped';
  /** ApplicationFailure type of a refusal, or what went wrong. */
  detail?: string;
  /** The image the action named, once resolved (registration, scoped messages, vanish). */
  imageId?: string;
  /** A registration: the image its answer holds. A lookup: the image it offered. */
  answered?: string | null;
  /** A registration: when the image its answer holds expires (TTLs are seconds here). */
  answeredExpiresAt?: string;
}

export class LaneModel {
  current: SnapshotState | null = null;
  readonly images: LaneImage[] = [];
  readonly acknowledged = new Set<string>();
  readonly merged = new Set<number>();
  readonly vanished = new Set<string>();
  readonly containers: { id: string; host: string }[] = [];
  /** Runs of this work item's workflow the lane saw start (for the replay at the end). */
  readonly runIds = new Set<string>();
  started = false;
  commits = 0;
  foreignTags = 0;

  constructor(
    readonly projectId: string,
    readonly workItemId: string,
    readonly repository: string,
  ) {}

  image(id: string): LaneImage | undefined {
    return this.images.find((i) => i.id === id);
  }

  /** An image of the lane other than the current one, chosen by `pick`. */
  stale(pick = 0): LaneImage | undefined {
    const others = this.images.filter((i) => i.id !== this.current?.imageId);
    return others.length > 0 ? others[pick % others.length] : undefined;
  }
}

export interface Observation {
  /** The workflow's current image after the step (null: none, or no workflow). */
  current: SnapshotState | null;
  /** The images the workflow says it ended and still remembers (diagnostics: why one ended). */
  ended?: SnapshotState[];
  nowMs: number;
  engines: FakeEngines;
}

/** Whether the step holds a message meant to end `img`, or its end is otherwise due. */
function explainEnding(
  model: LaneModel,
  img: SnapshotState,
  outcomes: Outcome[],
  nowMs: number,
): string | null {
  if (Date.parse(img.expiresAt) <= nowMs) return 'its TTL passed';
  if (img.pullRequest && model.merged.has(img.pullRequest.number)) return 'its pull request merged';
  if (model.vanished.has(img.imageId)) return 'it vanished';
  for (const o of outcomes) {
    const a = o.action;
    const named = o.imageId === undefined || o.imageId === img.imageId;
    if (
      a.kind === 'register' &&
      (o.result === 'ok' || o.result === 'unknown') &&
      o.answered !== img.imageId
    ) {
      return 'an accepted registration replaced it';
    }
    if (a.kind === 'link' && model.merged.has(a.pr)) return 'it was linked to a merged pull request';
    // Registering the current image again with a pull request links it, as a link would.
    if (a.kind === 'register' && a.pr !== null && model.merged.has(a.pr) && o.imageId === img.imageId) {
      return 'it was registered again linked to a merged pull request';
    }
    if (a.kind === 'merge' && a.match === 'branch' && !img.pullRequest) return 'its branch merged';
    if (a.kind === 'invalidate' && a.via === 'signal' && named) return 'an invalidation meant for it';
    if (a.kind === 'invalidate' && a.via === 'update' && o.result !== 'refused' && named) {
      return 'an accepted invalidation';
    }
    if (a.kind === 'evict' && named) return 'an eviction meant for it';
    if (a.kind === 'cancel' && o.result !== 'skipped') return 'the workflow was cancelled';
  }
  return null;
}

const show = (img: SnapshotState | null) => (img ? `${img.image} (${img.imageId.slice(7, 19)})` : 'nothing');

/**
 * Checks one step of a lane against the model, then moves the model on to what was observed.
 * Answers the violations, one sentence each.
 */
export function checkStep(model: LaneModel, outcomes: Outcome[], seen: Observation): string[] {
  const violations: string[] = [];
  const prev = model.current;
  const next = seen.current;
  const acknowledged = new Set(
    outcomes.filter((o) => o.action.kind === 'register' && o.result === 'ok').map((o) => o.answered),
  );
  const maybe = new Set(
    outcomes.filter((o) => o.action.kind === 'register' && o.result === 'unknown').map((o) => o.imageId),
  );
  // Invariant 1 and 2: the image current before the step ends only for a reason meant for it.
  if (prev && next?.imageId !== prev.imageId && !explainEnding(model, prev, outcomes, seen.nowMs)) {
    // What the workflow itself says ended it, when it still holds that image: a violation names
    // its cause, not only the step it showed in.
    const ending = seen.ended?.find((e) => e.imageId === prev.imageId && e.endReason);
    violations.push(
      `${show(prev)} stopped being current (now ${show(next)}) without an ending meant for it: ` +
        outcomes
          .map((o) => `${JSON.stringify(o.action)} -> ${o.result}${o.detail ? ` ${o.detail}` : ''}`)
          .join('; ') +
        (ending ? ` [the workflow ended it: ${ending.endReason}: ${ending.message ?? ''}]` : '') +
        ` [before the step: ${JSON.stringify({ ...prev, references: undefined })}; at the check ${new Date(seen.nowMs).toISOString()}]`,
    );
  }
  // An image acknowledged in this step and already gone needs its own explanation.
  for (const o of outcomes) {
    if (o.action.kind !== 'register' || o.result !== 'ok' || !o.answered) continue;
    if (o.answered === next?.imageId || o.answered === prev?.imageId) continue;
    const img = model.image(o.answered);
    const state = {
      imageId: o.answered,
      expiresAt: o.answeredExpiresAt ?? '9999-01-01T00:00:00Z',
      pullRequest: null,
    } as SnapshotState;
    const linked =
      o.action.pr !== null
        ? { ...state, pullRequest: { repository: model.repository, number: o.action.pr } }
        : state;
    if (!explainEnding(model, linked, outcomes, seen.nowMs)) {
      // What the workflow says ended it (when it still holds it), and the clocks the model read:
      // a TTL's end and a missing explanation are told apart from the line alone.
      const ending = seen.ended?.find((e) => e.imageId === o.answered);
      violations.push(
        `registration of ${img?.tag ?? o.answered} was acknowledged, then ended within the step without a reason` +
          (ending
            ? ` [the workflow ended it: ${ending.endReason ?? 'no reason'}: ${ending.message ?? ''}; expires ${ending.expiresAt}]`
            : ' [the workflow no longer holds it]') +
          ` [answered expiry ${linked.expiresAt}; at the check ${new Date(seen.nowMs).toISOString()}; now ${show(next)}; ` +
          `step: ${outcomes.map((x) => `${JSON.stringify(x.action)} -> ${x.result}${x.detail ? ` ${x.detail}` : ''}`).join('; ')}]`,
      );
    }
  }
  if (next && next.imageId !== prev?.imageId && !acknowledged.has(next.imageId) && !maybe.has(next.imageId)) {
    violations.push(`${show(next)} became current without an acknowledged registration`);
  }
  // A refusal, alone in its step, leaves the current image exactly as it was.
  const only = outcomes.length === 1 ? outcomes[0] : undefined;
  if (only?.result === 'refused' && prev && next && prev.imageId === next.imageId) {
    const before = JSON.stringify({ ...prev, lastUsedAt: null });
    const after = JSON.stringify({ ...next, lastUsedAt: null });
    if (before !== after)
      violations.push(
        `refused ${JSON.stringify(only.action)} changed the current image: ${before} -> ${after}`,
      );
  }
  if (next) {
    // Invariant 2: the current image, and its own references, are on the disk.
    const info = seen.engines.find(next.host, next.imageId);
    if (!info && !model.vanished.has(next.imageId)) {
      violations.push(`current image ${show(next)} is not on ${next.host}`);
    }
    for (const ref of next.references ?? []) {
      if (info && !info.repoTags.includes(ref) && !info.repoDigests.includes(ref)) {
        violations.push(`current image ${show(next)} lost its reference ${ref}`);
      }
    }
    if (next.pullRequest && model.merged.has(next.pullRequest.number)) {
      violations.push(`${show(next)} is current though its pull request #${next.pullRequest.number} merged`);
    }
  }
  for (const o of outcomes) {
    if (o.action.kind !== 'lookup' || !o.answered) continue;
    const offered = o.answered;
    if (offered !== prev?.imageId && !acknowledged.has(offered) && !maybe.has(offered)) {
      violations.push(`a lookup offered ${offered.slice(7, 19)}, which was not current during the step`);
    }
  }
  for (const id of acknowledged) if (id) model.acknowledged.add(id);
  model.current = next;
  return violations;
}
