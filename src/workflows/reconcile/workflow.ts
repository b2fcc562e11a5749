// The reconciler: for each host, every managed image must be owned by an open snapshot workflow,
// be younger than the grace period, or go. This is what removes the image of a terminated workflow,
// of a router that crashed between commit and register, and of the days before snapkeeper. It also
// ends the snapshot workflows whose image someone removed behind their back.
//
// A host may hold tens of thousands of managed images, so nothing here handles them all at once:
// one child workflow per host walks the images in pages (bounded activity inputs and results) and
// continues as new when its history grows, carrying only a cursor and a report with capped lists.
import { TimeoutType } from '@temporalio/common';
import {
  ActivityFailure,
  TimeoutFailure,
  continueAsNew,
  executeChild,
  log,
  patched,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { BudgetControlActivities } from '../activities/budget-control-activities.js';
import type { ReconcileControlActivities } from '../activities/reconcile-control-activities.js';
import type { ReconcileHostActivities } from '../activities/reconcile-host-activities.js';
import { NON_RETRYABLE_DOCKER_ERRORS } from '../contract/errors.js';
import { dockerTaskQueue, snapshotWorkflowId } from '../contract/names.js';
import type {
  BlockedImage,
  KeptImage,
  ManagedImage,
  ReconcileHostCarry,
  ReconcileHostInput,
  ReconcileReport,
  ReconcileResult,
  ReconcileWorkflowInput,
  SnapshotOwnerView,
  UnverifiedImage,
  VanishedSnapshot,
} from '../contract/reconcile-types.js';
import { failureMessage } from './failure-message.js';
import { describeOwners } from './owners.js';
import { REPORT_LIST_LIMIT, TAGS_PER_IMAGE_LIMIT } from '../contract/reconcile-types.js';
import { HOST_REPORT_MAX_BYTES, boundReport, boundResult } from './reconcile-bounds.js';

export type {
  ReconcileWorkflowInput,
  ReconcileResult,
  ReconcileReport,
  ReconcileHostInput,
} from '../contract/reconcile-types.js';

/** Orphans are fenced, re-checked against their owners, then removed, this many at a time. */
const REMOVAL_BATCH = 100;
const DEFAULT_IMAGES_PER_PAGE = 200;
const DEFAULT_WORKFLOWS_PER_PAGE = 500;
const DEFAULT_CONTINUE_AS_NEW_AFTER = 2000;
/** Continue-as-new well before Temporal's history size warning (10 MiB). */
const CONTINUE_AS_NEW_AFTER_BYTES = 4 * 1024 * 1024;
/**
 * Runs recorded before results were bounded replay without the cut (reconcile-bounds.ts): the
 * whole result of a manual reconcile of every host could pass Temporal's 2 MiB payload limit.
 */
export const BOUNDED_RESULTS_PATCH = 'reconcile-results-bounded';

// Every activity heartbeats: a worker that dies mid-activity is noticed within seconds, so the
// run goes on elsewhere instead of holding the host's skip-overlap schedule for the whole timeout.
const control = proxyActivities<ReconcileControlActivities & BudgetControlActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { maximumAttempts: 3 },
});

export async function reconcileWorkflow(input: ReconcileWorkflowInput): Promise<ReconcileResult> {
  const bounded = patched(BOUNDED_RESULTS_PATCH);
  const hosts = input.hosts?.length ? [...new Set(input.hosts)] : await control.listKnownHosts();
  const parent = workflowInfo().workflowId;
  const reports = await Promise.all(
    hosts.map(async (host): Promise<ReconcileReport> => {
      const hostInput: ReconcileHostInput = {
        host,
        orphanGraceSeconds: input.orphanGraceSeconds,
        dryRun: input.dryRun,
        ...(input.hostTimeoutSeconds !== undefined ? { hostTimeoutSeconds: input.hostTimeoutSeconds } : {}),
        ...(input.paging ? { paging: input.paging } : {}),
      };
      try {
        return await executeChild(reconcileHostWorkflow, {
          workflowId: `${parent}/${host}`,
          args: [hostInput],
          staticSummary: `Reconcile host ${host}${input.dryRun ? ' (dry run)' : ''}`,
        });
      } catch (err) {
        const report = emptyReport(hostInput, new Date(Date.now()).toISOString());
        report.error = failureMessage(err);
        report.finishedAt = new Date(Date.now()).toISOString();
        return report;
      }
    }),
  );
  return bounded ? boundResult(reports) : { reports };
}

function ownerOf(image: ManagedImage): string | null {
  return image.projectId && image.workItemId ? snapshotWorkflowId(image.projectId, image.workItemId) : null;
}

/**
 * Image ids that open workflows hold, on whichever host they say. Deliberately not per host: two
 * host ids wrongly pointed at one engine (two Docker workers sharing a socket) must not make
 * either reconciler remove the images the other's workflows own. The price is that a byte-identical
 * copy of an owned image on another engine (docker save/load, same labels) is never an orphan there.
 */
function held(views: SnapshotOwnerView[]): Set<string> {
  const ids = new Set<string>();
  for (const v of views) {
    if (v.status !== 'running') continue;
    for (const i of v.images) ids.add(i.imageId);
  }
  return ids;
}

function emptyReport(input: ReconcileHostInput, startedAt: string): ReconcileReport {
  return {
    host: input.host,
    startedAt,
    finishedAt: '',
    dryRun: input.dryRun,
    orphanGraceSeconds: input.orphanGraceSeconds,
    managedImages: 0,
    owned: 0,
    orphansRemoved: [],
    orphansKeptYoung: [],
    blocked: [],
    kept: [],
    vanished: [],
    unverified: [],
    repaired: [],
    counts: {
      orphansRemoved: 0,
      orphanBytesRemoved: 0,
      orphansKeptYoung: 0,
      blocked: 0,
      kept: 0,
      vanished: 0,
      unverified: 0,
      repaired: 0,
    },
    generations: 0,
    error: null,
  };
}

function keptImage(image: ManagedImage, references: string[], derived: boolean): KeptImage {
  return {
    imageId: image.imageId,
    tags: image.tags,
    projectId: image.projectId,
    workItemId: image.workItemId,
    references,
    reason: derived
      ? 'built from a snapshot (its labels declare a commit it is not): not a snapshot'
      : `named by reference(s) snapkeeper does not own: ${references.join(', ')}`,
  };
}

/** Counts are exact; the lists keep their first REPORT_LIST_LIMIT entries, so the report stays small. */
function recorder(report: ReconcileReport) {
  const keep = <T>(list: T[], item: T) => {
    if (list.length < REPORT_LIST_LIMIT) list.push(item);
  };
  return {
    removed(image: ManagedImage) {
      report.counts.orphansRemoved++;
      report.counts.orphanBytesRemoved += image.sizeBytes;
      keep(report.orphansRemoved, image);
    },
    young(image: ManagedImage) {
      report.counts.orphansKeptYoung++;
      keep(report.orphansKeptYoung, image);
    },
    blocked(item: BlockedImage) {
      report.counts.blocked++;
      keep(report.blocked, { ...item, holders: item.holders.slice(0, TAGS_PER_IMAGE_LIMIT) });
    },
    kept(image: ManagedImage, references: string[], derived: boolean) {
      report.counts.kept = (report.counts.kept ?? 0) + 1;
      keep((report.kept ??= []), keptImage(image, references.slice(0, TAGS_PER_IMAGE_LIMIT), derived));
    },
    vanished(item: VanishedSnapshot) {
      report.counts.vanished++;
      keep(report.vanished, item);
    },
    unverified(item: UnverifiedImage) {
      report.counts.unverified++;
      keep(report.unverified, item);
    },
    repairedAmong(views: SnapshotOwnerView[]) {
      for (const v of views) {
        if (!v.repaired) continue;
        report.counts.repaired = (report.counts.repaired ?? 0) + 1;
        keep((report.repaired ??= []), v.repaired);
      }
    },
  };
}

/** One host's reconcile, page by page; continues as new when its history grows. */
export async function reconcileHostWorkflow(input: ReconcileHostInput): Promise<ReconcileReport> {
  const { host, dryRun } = input;
  const bounded = patched(BOUNDED_RESULTS_PATCH);
  // The report is this run's result, its carry and an activity's input: each a payload.
  const payload = (r: ReconcileReport) => (bounded ? boundReport(r, HOST_REPORT_MAX_BYTES) : r);
  const grace = input.orphanGraceSeconds;
  const imagesPerPage = input.paging?.imagesPerPage ?? DEFAULT_IMAGES_PER_PAGE;
  const workflowsPerPage = input.paging?.workflowsPerPage ?? DEFAULT_WORKFLOWS_PER_PAGE;
  const continueAsNewAfter = input.paging?.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER;
  const docker = proxyActivities<ReconcileHostActivities>({
    taskQueue: dockerTaskQueue(host),
    // A host whose Docker worker is down is reported as such instead of holding the run forever.
    scheduleToStartTimeout: `${input.hostTimeoutSeconds ?? 60} seconds`,
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '15 seconds',
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_DOCKER_ERRORS },
  });
  const report = input.carry?.report ?? emptyReport(input, new Date(Date.now()).toISOString());
  const record = recorder(report);
  // The run's listing on the host's worker, the same across continue-as-new.
  const listing = `${workflowInfo().workflowId}:${workflowInfo().firstExecutionRunId}`;
  let phase: ReconcileHostCarry['phase'] = input.carry?.phase ?? 'images';
  let cursor: string | null = input.carry?.cursor ?? null;
  let unreachable = false;

  /** Running owners whose current image on this host was not seen: only a 404 proves it vanished. */
  async function endVanished(views: SnapshotOwnerView[], seen: Set<string>): Promise<void> {
    const suspects = views.flatMap((v) =>
      v.status === 'running' && v.current && v.current.host === host && !seen.has(v.current.imageId)
        ? [{ workflowId: v.workflowId, current: v.current }]
        : [],
    );
    if (suspects.length === 0) return;
    const missing = new Set(
      await docker.findMissingImages({ imageIds: suspects.map((s) => s.current.imageId), listing }),
    );
    for (const { workflowId, current } of suspects) {
      if (!missing.has(current.imageId)) continue;
      record.vanished({ workflowId, imageId: current.imageId, image: current.image });
      if (dryRun) continue;
      await control.signalVanished({
        workflowId,
        imageId: current.imageId,
        message: `image ${current.image} (${current.imageId}) vanished from host ${host}`,
      });
    }
  }

  /** The decision for one page of managed images. */
  async function decidePage(images: ManagedImage[]): Promise<void> {
    report.managedImages += images.length;
    // An image can only be owned by the workflow its labels name (registration checks them), so
    // that workflow's own answer decides. Queries, unlike visibility, do not lag.
    const labelled = images.map(ownerOf).filter((id): id is string => id !== null);
    const views = await describeOwners(control.describeSnapshotWorkflows, labelled);
    record.repairedAmong(views);
    const byOwner = new Map(views.map((v) => [v.workflowId, v]));
    const owned = held(views);

    const candidates: ManagedImage[] = [];
    for (const image of images) {
      const owner = ownerOf(image);
      const view = owner ? byOwner.get(owner) : undefined;
      if (owned.has(image.imageId)) report.owned++;
      else if (owner && view?.status === 'error') {
        record.unverified({ imageId: image.imageId, workflowId: owner, error: view.error ?? 'unknown' });
      } else if (image.keptBy) record.kept(image, image.keptBy.references, image.keptBy.derived);
      else if (image.ageSeconds < grace) record.young(image);
      else candidates.push(image);
    }
    await endVanished(views, new Set(images.map((i) => i.imageId)));

    if (dryRun) {
      candidates.forEach((c) => record.removed(c));
      return;
    }
    for (let i = 0; i < candidates.length; i += REMOVAL_BATCH) {
      await removeBatch(candidates.slice(i, i + REMOVAL_BATCH));
    }
  }

  async function removeBatch(batch: ManagedImage[]): Promise<void> {
    // Fence, then ask the owners once more right before removing: a registration may have come
    // in since, and one that starts after the fence refuses these images.
    await docker.fenceOrphanImages({ imageIds: batch.map((b) => b.imageId) });
    const again = await describeOwners(
      control.describeSnapshotWorkflows,
      batch.map(ownerOf).filter((id): id is string => id !== null),
    );
    record.repairedAmong(again);
    const heldNow = held(again);
    const failedNow = new Set(again.filter((v) => v.status === 'error').map((v) => v.workflowId));
    const go: ManagedImage[] = [];
    for (const image of batch) {
      const owner = ownerOf(image);
      if (heldNow.has(image.imageId)) report.owned++;
      else if (owner && failedNow.has(owner)) {
        record.unverified({ imageId: image.imageId, workflowId: owner, error: 'owner query failed' });
      } else go.push(image);
    }
    const spared = batch.filter((b) => !go.includes(b)).map((b) => b.imageId);
    if (spared.length > 0) await docker.unfenceImages({ imageIds: spared });
    if (go.length === 0) return;
    const results = await docker.removeOrphanImages({
      imageIds: go.map((g) => g.imageId),
      orphanGraceSeconds: grace,
    });
    go.forEach((image, k) => {
      const result = results[k];
      if (!result) return;
      const short = (ids: string[], n: number) => ids.map((h) => h.slice(0, n)).join(', ');
      switch (result.outcome) {
        case 'removed':
        case 'already-gone':
          record.removed(image);
          break;
        case 'too-young':
          record.young(image);
          break;
        case 'in-use':
          record.blocked({
            imageId: image.imageId,
            tags: image.tags,
            reason: `in use by container(s) ${short(result.holders.slice(0, TAGS_PER_IMAGE_LIMIT), 12)}`,
            holders: result.holders,
          });
          break;
        case 'held-by-children':
          record.blocked({
            imageId: image.imageId,
            tags: image.tags,
            reason: `its layers are held by child image(s) ${short(result.holders.slice(0, TAGS_PER_IMAGE_LIMIT), 19)}`,
            holders: result.holders,
          });
          break;
        case 'kept':
          record.kept(image, result.holders, false);
          break;
        case 'blocked':
          record.blocked({
            imageId: image.imageId,
            tags: image.tags,
            reason: result.reason ?? 'the engine refused to remove it',
            holders: [],
          });
          break;
        case 'unmanaged':
          break;
      }
    });
  }

  /**
   * Open workflows of this host (visibility) that no managed image here names were not asked in
   * the image pages; their current image may be the one that vanished.
   */
  async function checkUnlabelledOwners(workflowIds: string[]): Promise<void> {
    if (workflowIds.length === 0) return;
    const unseen = await docker.workflowsWithoutImages({ listing, workflowIds });
    if (unseen.length === 0) return;
    await endVanished(await describeOwners(control.describeSnapshotWorkflows, unseen), new Set());
  }

  const historyFull = () =>
    workflowInfo().continueAsNewSuggested ||
    workflowInfo().historyLength >= continueAsNewAfter ||
    workflowInfo().historySize >= CONTINUE_AS_NEW_AFTER_BYTES;

  let handOver = false;
  try {
    for (;;) {
      if (phase === 'images') {
        const page = await docker.listManagedImagesPage({ listing, after: cursor, limit: imagesPerPage });
        await decidePage(page.images);
        cursor = page.next;
        if (cursor === null) phase = 'workflows';
      } else {
        const page = await control.listOpenSnapshotWorkflowsPage({
          host,
          pageToken: cursor,
          pageSize: workflowsPerPage,
        });
        await checkUnlabelledOwners(page.workflowIds);
        cursor = page.next;
        if (cursor === null) break;
      }
      if (historyFull()) {
        handOver = true;
        break;
      }
    }
  } catch (err) {
    report.error = failureMessage(err);
    unreachable = isScheduleToStartTimeout(err);
    log.warn('reconcile of a host failed', { host, error: report.error });
  }
  if (handOver && !report.error) {
    report.generations = (report.generations ?? 0) + 1;
    const carry: ReconcileHostCarry = { phase, cursor, report: payload(report) };
    await continueAsNew<typeof reconcileHostWorkflow>({ ...input, carry });
  }
  report.finishedAt = new Date(Date.now()).toISOString();

  // The host's worker records the run in its metrics, unless it is the part that is down.
  if (!unreachable) {
    try {
      await docker.recordReconcileReport(payload(report));
    } catch (err) {
      log.warn('could not record the reconcile report on the host', { host, error: failureMessage(err) });
    }
  }
  if (!dryRun && !report.error) {
    // Budgets are enforced at registration; this catches what changed between registrations
    // (disk filled by other means, owners terminated) once an interval.
    try {
      await control.checkBudget({ host, discover: true });
    } catch (err) {
      log.warn('budget check failed', { host, error: failureMessage(err) });
    }
  }
  return payload(report);
}

function isScheduleToStartTimeout(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START
  );
}
