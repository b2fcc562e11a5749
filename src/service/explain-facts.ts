// What `snapkeeper explain` gathers about one image before it decides anything: the engine's view of
// the image, and what Temporal says about the workflows that could hold, protect or take it. The
// gatherer (explain-gather.ts) fills these in; the decision (explain-image.ts) reads only these, so
// it is a pure function that unit tests drive case by case.
import type { BudgetView } from '../contract/budget-types.js';
import type { ReferenceFacts } from '../contract/image-references.js';
import type { SnapshotWorkflowView } from '../contract/snapshot-types.js';
import type { LeaseAnswer } from './explain-lease.js';

/** The image as the engine inspects it (the reference rule's facts plus age and size). */
export interface ExplainImageFacts extends ReferenceFacts {
  createdAt: string;
  sizeBytes: number;
}

/** A container of the engine that uses the image (running or not): the engine refuses a removal. */
export interface ExplainContainer {
  id: string;
  names: string[];
  state: string;
}

/** What a workflow's describe said: running, closed (with Temporal's close status), absent, or an error. */
export type WorkflowPresence =
  | { status: 'running' }
  | { status: 'closed'; closeStatus: string }
  | { status: 'not-found' }
  | { status: 'error'; error: string };

/** The snapshot workflow the image's labels name, and what it holds. */
export interface ExplainOwnerFacts {
  workflowId: string;
  presence: WorkflowPresence;
  /** The `state` query's answer (running workflows only); null when it was not asked or failed. */
  view: SnapshotWorkflowView | null;
  /** Why the query failed, for a running workflow whose query did not answer. */
  queryError: string | null;
  /** A closed workflow's last `SnapshotState` search attribute (kept, removed, ...), if any. */
  lastState: string | null;
}

/** The lease the image's label names (issue 21 part 1): live while its workflow runs. */
export interface ExplainLeaseFacts {
  leaseId: string;
  /** null for a label that is no lease id. */
  workflowId: string | null;
  answer: LeaseAnswer;
}

/** The host's budget entity `budget:<host>` and its `budget` query. */
export interface ExplainBudgetFacts {
  workflowId: string;
  presence: WorkflowPresence;
  view: BudgetView | null;
  queryError: string | null;
}

/** The host's reconcile schedule: when it runs and with which grace. */
export interface ExplainScheduleFacts {
  scheduleId: string;
  presence: 'found' | 'not-found' | 'error';
  error: string | null;
  /** The grace its runs use (the schedule's own input), when found. */
  graceSeconds: number | null;
  /** Its interval, when it has exactly one. */
  intervalMs: number | null;
  /** Its next run times as the server computed them (ISO), earliest first. */
  nextRuns: string[];
  paused: boolean;
}

export interface ExplainFacts {
  /** The reference or id the operator named. */
  ref: string;
  hostId: string;
  /** Where the engine was reached (DOCKER_HOST, or the default socket). */
  engine: string;
  /** When the facts were gathered (ISO); the decision's clock. */
  now: string;
  image: ExplainImageFacts;
  containers: ExplainContainer[];
  /** Images whose parent is this one: the engine keeps its layers while they exist. */
  children: string[];
  /** Null for an unmanaged image, or one whose labels name no work item. */
  owner: ExplainOwnerFacts | null;
  lease: ExplainLeaseFacts | null;
  /** Asked only for an image a running workflow holds as its current one. */
  budget: ExplainBudgetFacts | null;
  /** Null for an unmanaged image (the reconciler never looks at it). */
  schedule: ExplainScheduleFacts | null;
  /** SNAPKEEPER_ORPHAN_GRACE as this process reads it: used only when the schedule is not found. */
  configGraceSeconds: number;
}
