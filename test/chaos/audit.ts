// The end of a chaos run: let the system settle (bounded), reconcile once after the grace period,
// then check what snapkeeper promises. Every broken promise is one violation line.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import {
  WORKFLOW_TASK_QUEUE,
  LABEL_PROJECT,
  LABEL_WORK_ITEM,
  parseSnapshotWorkflowId,
  snapshotWorkflowId,
} from '../../src/contract/names.js';
import type { SnapshotWorkflowView } from '../../src/contract/snapshot-types.js';
import { stateQuery } from '../../src/contract/messages.js';
import type { ReconcileResult, reconcileWorkflow } from '../../src/workflows/reconcile/workflow.js';
import type { snapshotWorkflow } from '../../src/workflows/snapshot/workflow.js';
import { removeContainerById } from '../support/containers.js';
import { listContainerIds, listManagedImages, resolveImage } from './chaos-images.js';
import type { ChaosHost, ChaosSystem } from './chaos-system.js';
import { BASE_IMAGE, CANARY_IMAGE, ORPHAN_GRACE_SECONDS } from './chaos-system.js';
import type { Ledger, Registration } from './ledger.js';

export interface AuditFacts {
  managedImages: number;
  owned: number;
  keptForOthers: number;
  openWorkflows: number;
  /** Snapshot workflows of the run that failed, timed out, or were terminated by no lifecycle. */
  badlyEnded: number;
  acknowledged: number;
  acknowledgedGone: number;
  acknowledgedHeld: number;
  /** Acknowledged images that stay only as the layers of a child image someone else keeps (or a snapshot owns). */
  acknowledgedUnderChild: number;
  /**
   * Acknowledged images expected held that a disk-pressure eviction ended, on a host whose disk
   * the run filled: the budget's watermark doing its job, not a lost registration.
   */
  acknowledgedEvictedOnFullDisk: number;
  reconcile: { orphansRemoved: number; blocked: number; vanished: number; repaired: number };
}

interface Owner {
  running: boolean;
  view: SnapshotWorkflowView | null;
}

async function ownerOf(client: Client, cache: Map<string, Owner>, workflowId: string): Promise<Owner> {
  const known = cache.get(workflowId);
  if (known) return known;
  let owner: Owner = { running: false, view: null };
  try {
    const handle = client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    if (description.status.name === 'RUNNING')
      owner = { running: true, view: await handle.query(stateQuery) };
  } catch {
    owner = { running: false, view: null };
  }
  cache.set(workflowId, owner);
  return owner;
}

function heldIds(owner: Owner): Set<string> {
  const ids = new Set<string>();
  if (!owner.running || !owner.view) return ids;
  if (owner.view.current) ids.add(owner.view.current.imageId);
  for (const r of owner.view.retiring) ids.add(r.imageId);
  return ids;
}

/** The part of a chaos system the drain needs; a regression test hands in its own. */
export interface DrainTarget {
  hosts: ReadonlyArray<Pick<ChaosHost, 'id' | 'docker'>>;
  client: Client;
}

/** What the audit reads: each host's engine and the images it must find untouched, and Temporal. */
export interface AuditTarget {
  hosts: ReadonlyArray<Pick<ChaosHost, 'id' | 'docker' | 'baseImageId' | 'canaryImageId'>>;
  client: Client;
}

const inRun = (ledger: Ledger, workflowId: string): boolean =>
  parseSnapshotWorkflowId(workflowId)?.projectId.startsWith(ledger.projectPrefix) ?? false;

async function openSnapshotWorkflows(client: Client, ledger: Ledger): Promise<string[]> {
  const ids = new Set<string>();
  for await (const w of client.workflow.list({
    query: "WorkflowType='snapshotWorkflow' AND ExecutionStatus='Running'",
  }))
    if (inRun(ledger, w.workflowId)) ids.add(w.workflowId);
  // Visibility lags; the ledger knows every work item the run touched.
  for (const r of ledger.registrations) {
    const id = snapshotWorkflowId(r.projectId, r.workItemId);
    if (ids.has(id)) continue;
    try {
      const d = await client.workflow.getHandle(id).describe();
      if (d.status.name === 'RUNNING') ids.add(id);
    } catch {
      // Never started: its registration was refused before a workflow existed.
    }
  }
  return [...ids];
}

/**
 * What an open snapshot workflow is waiting for, in one line: its images on their way out (and
 * what blocks them), its pending activities with their attempts and last failure, a workflow task
 * nobody has picked up.
 */
export async function waitingFor(client: Client, workflowId: string): Promise<string> {
  const handle = client.workflow.getHandle(workflowId);
  const parts: string[] = [];
  try {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') return `closed (${d.status.name})`;
    for (const a of d.raw.pendingActivities ?? []) {
      const failure = a.lastFailure?.message ? `, last failure: ${a.lastFailure.message}` : '';
      parts.push(`activity ${a.activityType?.name ?? '?'} attempt ${a.attempt ?? 0}${failure}`.slice(0, 300));
    }
    const task = d.raw.pendingWorkflowTask;
    if (task) parts.push(`workflow task ${task.state === 1 ? 'scheduled, not picked up' : 'started'}`);
  } catch (err) {
    parts.push(`describe failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const v = await handle.query(stateQuery);
    if (v.current) parts.push(`current ${v.current.imageId.slice(0, 19)} (${v.current.state})`);
    for (const r of v.retiring)
      parts.push(`removing ${r.imageId.slice(0, 19)} (${r.state}${r.blockedBy ? `: ${r.blockedBy}` : ''})`);
  } catch (err) {
    parts.push(`no answer to the state query: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parts.join('; ') || 'nothing pending';
}

/**
 * Waits (bounded) until every acknowledged image that should go is gone and no open snapshot
 * workflow of the run is still removing an image. The second matters too: an image whose
 * registration was never acknowledged (a retry answered 422 after the first attempt registered it)
 * still leaves through its workflow, and a removal handed to a Docker worker killed in the last
 * moments of the run waits out its 2-minute start-to-close timeout before its retry.
 */
export async function settle(system: ChaosSystem, ledger: Ledger, deadlineMs: number): Promise<number> {
  const started = Date.now();
  const hostOf = (id: string) => system.hosts.find((h) => h.id === id);
  while (Date.now() - started < deadlineMs) {
    let pending = 0;
    const parents = new Map<string, Set<string>>();
    for (const r of ledger.registrations) {
      if (!r.acknowledged || r.expect !== 'gone' || r.foreignTag) continue;
      const host = hostOf(r.host);
      if (!host || !(await resolveImage(host.docker, r.imageId).catch(() => 'unknown'))) continue;
      // A parent stays while a child needs its layers (a child someone else keeps may never go);
      // the child, if it is leaving, is counted on its own.
      let ofHost = parents.get(host.id);
      if (!ofHost)
        parents.set(
          host.id,
          (ofHost = new Set((await parentMap(host).catch(() => new Map<string, string>())).values())),
        );
      if (!ofHost.has(r.imageId)) pending++;
    }
    if (pending === 0) pending = await stillRemoving(system.client, ledger);
    if (pending === 0) break;
    await sleep(3_000);
  }
  return Date.now() - started;
}

async function stillRemoving(client: Client, ledger: Ledger): Promise<number> {
  let removing = 0;
  for (const id of await openSnapshotWorkflows(client, ledger)) {
    const view = await client.workflow
      .getHandle(id)
      .query(stateQuery)
      .catch(() => null);
    if (!view || view.retiring.length > 0) removing++;
  }
  return removing;
}

export async function removeAllContainers(hosts: ChaosHost[]): Promise<number> {
  let removed = 0;
  for (const host of hosts) {
    for (const id of await listContainerIds(host.docker)) {
      await removeContainerById(host.docker, id);
      removed++;
    }
  }
  return removed;
}

/** One reconcile of every host, as the schedule runs it, once the last commit is past the grace. */
export async function reconcileOnce(system: ChaosSystem, ledger: Ledger): Promise<ReconcileResult> {
  const graceEnds = ledger.lastCommitAt + (ORPHAN_GRACE_SECONDS + 2) * 1000;
  if (Date.now() < graceEnds) await sleep(graceEnds - Date.now());
  return system.client.workflow.execute<typeof reconcileWorkflow>('reconcileWorkflow', {
    workflowId: `chaos-reconcile-${Date.now()}`,
    taskQueue: WORKFLOW_TASK_QUEUE,
    args: [{ hosts: system.hosts.map((h) => h.id), orphanGraceSeconds: ORPHAN_GRACE_SECONDS, dryRun: false }],
    workflowExecutionTimeout: '10 minutes',
  });
}

/** Each image's parent, for the images that have one. */
async function parentMap(host: Pick<ChaosHost, 'docker'>): Promise<Map<string, string>> {
  const parent = new Map<string, string>();
  for (const i of await host.docker.listImages({ all: true })) if (i.ParentId) parent.set(i.Id, i.ParentId);
  return parent;
}

/** Image ids whose layers a kept or owned image needs: their parents cannot go before them. */
async function ancestors(host: Pick<ChaosHost, 'docker'>, of: Iterable<string>): Promise<Set<string>> {
  const parent = await parentMap(host);
  const out = new Set<string>();
  for (const start of of) {
    let p = parent.get(start);
    while (p && !out.has(p)) {
      out.add(p);
      p = parent.get(p);
    }
  }
  return out;
}

export async function audit(
  system: AuditTarget,
  ledger: Ledger,
  reconcile: ReconcileResult,
): Promise<{ violations: string[]; facts: AuditFacts }> {
  const violations: string[] = [];
  const client = system.client;
  const cache = new Map<string, Owner>();
  const facts: AuditFacts = {
    managedImages: 0,
    owned: 0,
    keptForOthers: 0,
    openWorkflows: 0,
    badlyEnded: 0,
    acknowledged: 0,
    acknowledgedGone: 0,
    acknowledgedHeld: 0,
    acknowledgedUnderChild: 0,
    acknowledgedEvictedOnFullDisk: 0,
    reconcile: { orphansRemoved: 0, blocked: 0, vanished: 0, repaired: 0 },
  };
  for (const r of reconcile.reports) {
    facts.reconcile.orphansRemoved += r.counts.orphansRemoved;
    facts.reconcile.blocked += r.counts.blocked;
    facts.reconcile.vanished += r.counts.vanished;
    facts.reconcile.repaired += r.counts.repaired ?? 0;
    if (r.error) violations.push(`reconcile of ${r.host} failed: ${r.error}`);
  }
  const foreignTags = new Set(ledger.registrations.flatMap((r) => (r.foreignTag ? [r.foreignTag] : [])));

  // 1. No leak: every managed image is owned by an open snapshot, or kept for someone else, or is
  // the parent of one (the engine cannot remove an image whose layers a child needs; snapkeeper
  // untags it and it goes with its last child).
  const underChildren = new Map<string, Set<string>>();
  for (const host of system.hosts) {
    const images = await listManagedImages(host.docker);
    facts.managedImages += images.length;
    const covered = new Set<string>();
    const ownedHere: string[] = [];
    for (const image of images) {
      const project = image.labels[LABEL_PROJECT];
      const workItem = image.labels[LABEL_WORK_ITEM];
      const owner =
        project && workItem ? await ownerOf(client, cache, snapshotWorkflowId(project, workItem)) : null;
      if (owner && heldIds(owner).has(image.id)) {
        facts.owned++;
        ownedHere.push(image.id);
        covered.add(image.id);
      } else if (image.tags.some((t) => foreignTags.has(t))) {
        facts.keptForOthers++;
        ownedHere.push(image.id);
        covered.add(image.id);
      }
    }
    const parents = await ancestors(host, ownedHere);
    underChildren.set(host.id, parents);
    for (const id of parents) covered.add(id);
    for (const image of images) {
      if (covered.has(image.id)) continue;
      violations.push(
        `leak: ${host.id} ${image.id.slice(0, 19)} [${image.tags.join(', ')}] of ` +
          `${image.labels[LABEL_PROJECT]}/${image.labels[LABEL_WORK_ITEM]} is owned by no open snapshot`,
      );
    }
  }

  // 2. No wrong removal: base images, canaries, and references someone else made.
  for (const host of system.hosts) {
    for (const [ref, id] of [
      [BASE_IMAGE, host.baseImageId],
      [CANARY_IMAGE, host.canaryImageId],
    ] as const) {
      const now = await resolveImage(host.docker, ref);
      if (now !== id)
        violations.push(`wrong removal: ${host.id} ${ref} is ${now ?? 'gone'}, was ${id.slice(0, 19)}`);
    }
  }
  for (const r of ledger.registrations) {
    if (!r.foreignTag) continue;
    const host = system.hosts.find((h) => h.id === r.host);
    const now = host ? await resolveImage(host.docker, r.foreignTag) : null;
    if (now !== r.imageId)
      violations.push(
        `wrong removal: ${r.host} someone else's ${r.foreignTag} (lifecycle ${r.lifecycle}) is ${now ?? 'gone'}`,
      );
  }

  // 3. Every acknowledged registration is accounted for.
  for (const r of ledger.registrations) {
    if (!r.acknowledged || r.foreignTag) continue;
    facts.acknowledged++;
    const host = system.hosts.find((h) => h.id === r.host);
    if (!host) continue;
    const exists = (await resolveImage(host.docker, r.imageId)) !== null;
    const owner = await ownerOf(client, cache, snapshotWorkflowId(r.projectId, r.workItemId));
    const current = owner.running && owner.view?.current?.imageId === r.imageId;
    if (!exists) {
      facts.acknowledgedGone++;
      if (r.expect === 'held') {
        if (!owner.running && ledger.fullDiskHosts.has(r.host) && (await evictedImage(client, r)))
          facts.acknowledgedEvictedOnFullDisk++;
        else violations.push(`lost: ${describeReg(r)} should still be held, but it is gone`);
      }
    } else if (current && r.expect === 'held') {
      facts.acknowledgedHeld++;
    } else if (!current && underChildren.get(r.host)?.has(r.imageId)) {
      facts.acknowledgedUnderChild++;
    } else {
      violations.push(
        `not accounted: ${describeReg(r)} is still on disk (${current ? 'current' : 'not current'} of a ` +
          `${owner.running ? 'running' : 'closed'} workflow) but should be ${r.expect}`,
      );
    }
  }

  // 4. No stuck workflow: each open one waits for its current image's end, nothing else.
  const open = await openSnapshotWorkflows(client, ledger);
  facts.openWorkflows = open.length;
  for (const id of open) {
    cache.delete(id);
    const owner = await ownerOf(client, cache, id);
    const v = owner.view;
    if (!owner.running) continue;
    let problem: string | null = null;
    if (!v) problem = 'does not answer its state query';
    else if (v.retiring.length > 0) problem = 'is still removing images';
    else if (!v.current) problem = 'is open without a current image';
    else if (Date.parse(v.current.expiresAt) < Date.now() - 15_000)
      problem = `holds ${v.current.image} past its expiry ${v.current.expiresAt}`;
    if (problem) violations.push(`stuck: ${id} ${problem}; waiting for: ${await waitingFor(client, id)}`);
  }

  // 5. No workflow ended badly: a failed one gave up on a removal, a timed-out one should not
  // exist (no snapshot workflow has a timeout), a terminated one only where the run terminated it.
  const terminatedOnPurpose = new Set(
    ledger.registrations
      .filter((r) => r.kind === 'terminate')
      .map((r) => snapshotWorkflowId(r.projectId, r.workItemId)),
  );
  for await (const w of client.workflow.list({
    query:
      "WorkflowType='snapshotWorkflow' AND (ExecutionStatus='Failed' OR ExecutionStatus='TimedOut' OR ExecutionStatus='Terminated')",
  })) {
    if (!inRun(ledger, w.workflowId)) continue;
    if (w.status.name === 'TERMINATED' && terminatedOnPurpose.has(w.workflowId)) continue;
    facts.badlyEnded++;
    const why = await client.workflow
      .getHandle(w.workflowId, w.runId)
      .result()
      .then(
        () => 'no failure',
        (err: unknown) => {
          const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
          return cause instanceof Error ? cause.message : String(cause);
        },
      );
    violations.push(`ended badly: ${w.workflowId} (run ${w.runId}) is ${w.status.name}: ${why}`);
  }
  return { violations, facts };
}

/**
 * Cancels every open snapshot of the run and checks that all their images leave and that every
 * one of those workflows closes: what the run leaves behind is only what someone else keeps. An
 * image leaves in the cleanup's last activity, one workflow task before its workflow closes, so
 * the drain waits for both before it judges.
 */
export async function drain(target: DrainTarget, ledger: Ledger, deadlineMs: number): Promise<string[]> {
  const violations: string[] = [];
  const open = await openSnapshotWorkflows(target.client, ledger);
  for (const id of open)
    await target.client.workflow
      .getHandle(id)
      .cancel()
      .catch(() => undefined);
  const foreignTags = new Set(ledger.registrations.flatMap((r) => (r.foreignTag ? [r.foreignTag] : [])));
  const deadline = Date.now() + deadlineMs;
  let left: string[] = [];
  let stillOpen: string[] = [];
  for (;;) {
    left = [];
    for (const host of target.hosts) {
      const images = (await listManagedImages(host.docker)).filter((i) =>
        (i.labels[LABEL_PROJECT] ?? '').startsWith(ledger.projectPrefix),
      );
      const kept = images.filter((i) => i.tags.some((t) => foreignTags.has(t))).map((i) => i.id);
      const keptParents = await ancestors(host, kept);
      for (const i of images) {
        if (kept.includes(i.id) || keptParents.has(i.id)) continue;
        left.push(`${host.id} ${i.id.slice(0, 19)} [${i.tags.join(', ')}]`);
      }
    }
    stillOpen = left.length === 0 ? await openSnapshotWorkflows(target.client, ledger) : open;
    if ((left.length === 0 && stillOpen.length === 0) || Date.now() > deadline) break;
    await sleep(3_000);
  }
  for (const l of left) violations.push(`drain: ${l} still on disk after every open snapshot was cancelled`);
  for (const id of await openSnapshotWorkflows(target.client, ledger))
    violations.push(
      `drain: ${id} still open ${Math.round(deadlineMs / 1000)} s after its cancellation, waiting for: ${await waitingFor(target.client, id)}`,
    );
  return violations;
}

/**
 * True when the registration's workflow ended this very image by an eviction (its last state names
 * the image, with end reason `evicted`). Only a closed workflow says so; an open one holds another.
 */
async function evictedImage(client: Client, r: Registration): Promise<boolean> {
  try {
    const result = await client.workflow
      .getHandle<typeof snapshotWorkflow>(snapshotWorkflowId(r.projectId, r.workItemId))
      .result();
    return result.last?.imageId === r.imageId && result.last.endReason === 'evicted';
  } catch {
    return false;
  }
}

function describeReg(r: Registration): string {
  return `lifecycle ${r.lifecycle} (${r.kind}) ${r.host} ${r.image} ${r.imageId.slice(0, 19)} [${r.answers.join(', ')}]`;
}
