// What `snapkeeper explain` reads before deciding: the image on the engine, then what Temporal says
// about the workflows that could hold, protect or take it. Read-only by construction: the engine is
// reached through ExplainEngine (inspect and list, nothing that writes), and Temporal through
// describes and queries only (no signal, update, start or schedule change).
import type { Client } from '@temporalio/client';
import { ScheduleNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import type { BudgetView } from '../contract/budget-types.js';
import { budgetStateQuery, stateQuery } from '../contract/messages.js';
import {
  LABEL_MANAGED,
  LABEL_PROJECT,
  LABEL_WORK_ITEM,
  budgetWorkflowId,
  reconcileScheduleId,
  snapshotWorkflowId,
} from '../contract/names.js';
import type { ReconcileWorkflowInput } from '../contract/reconcile-types.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../contract/search-attribute-keys.js';
import type { SnapshotWorkflowView } from '../contract/snapshot-types.js';
import type {
  ExplainBudgetFacts,
  ExplainContainer,
  ExplainFacts,
  ExplainImageFacts,
  ExplainLeaseFacts,
  ExplainOwnerFacts,
  ExplainScheduleFacts,
  WorkflowPresence,
} from './explain-facts.js';
import { leaseOfImage } from './explain-lease.js';
import { createLeaseLookup } from './lease-status.js';

/**
 * The engine calls explain makes: the Docker port (src/docker/docker-port.ts) fits it, and only its
 * reading half is named, so nothing here can change the engine.
 */
export interface ExplainEngine {
  /** null when the engine answers 404. */
  inspectImage(ref: string): Promise<(ExplainImageFacts & { parentId: string }) | null>;
  listContainers(): Promise<Array<{ id: string; imageId: string; state: string; names: string[] }>>;
  listImages(options?: { all?: boolean }): Promise<Array<{ id: string; parentId: string }>>;
}

/** The engine's part of the facts; null when the engine has no such image. */
export interface EngineFacts {
  image: ExplainImageFacts;
  containers: ExplainContainer[];
  children: string[];
}

export async function gatherEngineFacts(engine: ExplainEngine, ref: string): Promise<EngineFacts | null> {
  const info = await engine.inspectImage(ref);
  if (!info) return null;
  const [containers, images] = await Promise.all([engine.listContainers(), engine.listImages({ all: true })]);
  return {
    image: {
      id: info.id,
      repoTags: info.repoTags,
      repoDigests: info.repoDigests,
      labels: info.labels,
      comment: info.comment,
      createdAt: info.createdAt,
      sizeBytes: info.sizeBytes,
    },
    containers: containers
      .filter((c) => c.imageId === info.id)
      .map((c) => ({ id: c.id, names: c.names, state: c.state })),
    children: images.filter((i) => i.parentId === info.id).map((i) => i.id),
  };
}

export interface GatherInput {
  ref: string;
  hostId: string;
  engine: string;
  engineFacts: EngineFacts;
  /** null: do not ask Temporal (an unmanaged image needs nothing from it). */
  client: Client | null;
  configGraceSeconds: number;
  now?: () => number;
}

/** Whether the decision needs Temporal at all: only a managed image can be held, leased or reaped. */
export function needsTemporal(image: ExplainImageFacts): boolean {
  return image.labels[LABEL_MANAGED] === 'true';
}

export async function gatherExplainFacts(input: GatherInput): Promise<ExplainFacts> {
  const { engineFacts, client, hostId } = input;
  const { image } = engineFacts;
  const facts: ExplainFacts = {
    ref: input.ref,
    hostId,
    engine: input.engine,
    now: new Date((input.now ?? Date.now)()).toISOString(),
    ...engineFacts,
    owner: null,
    lease: null,
    budget: null,
    schedule: null,
    configGraceSeconds: input.configGraceSeconds,
  };
  if (!client || !needsTemporal(image)) return facts;
  const projectId = image.labels[LABEL_PROJECT];
  const workItemId = image.labels[LABEL_WORK_ITEM];
  const lease = leaseOfImage(image.labels);
  const [owner, leaseFacts, schedule] = await Promise.all([
    projectId && workItemId ? readOwner(client, snapshotWorkflowId(projectId, workItemId)) : null,
    lease ? readLease(client, lease) : null,
    readSchedule(client, reconcileScheduleId(hostId)),
  ]);
  facts.owner = owner;
  facts.lease = leaseFacts;
  facts.schedule = schedule;
  // The budget matters only for a current image: the one a budget can evict.
  const current = owner?.view?.current;
  if (current && current.imageId === image.id) facts.budget = await readBudget(client, current.host);
  return facts;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function presenceOf(
  client: Client,
  workflowId: string,
): Promise<{ presence: WorkflowPresence; runId: string | null; lastState: string | null }> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.status.name === 'RUNNING')
      return { presence: { status: 'running' }, runId: d.runId, lastState: null };
    const state = d.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.state);
    return {
      presence: { status: 'closed', closeStatus: d.status.name.toLowerCase() },
      runId: d.runId,
      lastState: typeof state === 'string' ? state : null,
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      return { presence: { status: 'not-found' }, runId: null, lastState: null };
    return { presence: { status: 'error', error: errorText(err) }, runId: null, lastState: null };
  }
}

/** The snapshot workflow the labels name: a closed one holds nothing, so only a running one is asked. */
async function readOwner(client: Client, workflowId: string): Promise<ExplainOwnerFacts> {
  const { presence, runId, lastState } = await presenceOf(client, workflowId);
  let view: SnapshotWorkflowView | null = null;
  let queryError: string | null = null;
  if (presence.status === 'running') {
    try {
      view = await client.workflow.getHandle(workflowId, runId ?? undefined).query(stateQuery);
    } catch (err) {
      queryError = errorText(err);
    }
  }
  return { workflowId, presence, view, queryError, lastState };
}

/** The same describe, with the same deadline, as the reconciler's lease check. */
async function readLease(
  client: Client,
  lease: { leaseId: string; workflowId: string | null },
): Promise<ExplainLeaseFacts> {
  if (lease.workflowId === null) return { ...lease, answer: { state: 'malformed' } };
  try {
    return { ...lease, answer: await createLeaseLookup(client)(lease.leaseId) };
  } catch (err) {
    return { ...lease, answer: { state: 'unchecked', error: errorText(err) } };
  }
}

async function readBudget(client: Client, host: string): Promise<ExplainBudgetFacts> {
  const workflowId = budgetWorkflowId(host);
  const { presence, runId } = await presenceOf(client, workflowId);
  let view: BudgetView | null = null;
  let queryError: string | null = null;
  if (presence.status === 'running') {
    try {
      view = await client.workflow.getHandle(workflowId, runId ?? undefined).query(budgetStateQuery);
    } catch (err) {
      queryError = errorText(err);
    }
  }
  return { workflowId, presence, view, queryError };
}

async function readSchedule(client: Client, scheduleId: string): Promise<ExplainScheduleFacts> {
  const empty = {
    scheduleId,
    graceSeconds: null,
    intervalMs: null,
    nextRuns: [],
    paused: false,
    error: null,
  };
  try {
    const d = await client.schedule.getHandle(scheduleId).describe();
    const args = (d.action as { args?: unknown[] }).args as ReconcileWorkflowInput[] | undefined;
    const grace = args?.[0]?.orphanGraceSeconds;
    const intervals = d.spec.intervals ?? [];
    return {
      ...empty,
      presence: 'found',
      graceSeconds: typeof grace === 'number' ? grace : null,
      intervalMs: intervals.length === 1 ? Number(intervals[0]?.every) || null : null,
      nextRuns: d.info.nextActionTimes.map((t) => t.toISOString()),
      paused: d.state.paused,
    };
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return { ...empty, presence: 'not-found' };
    return { ...empty, presence: 'error', error: errorText(err) };
  }
}
