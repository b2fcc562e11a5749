// The reconciler: for each host, every managed image must be owned by an open snapshot workflow,
// be younger than the grace period, or go. This is what removes the image of a terminated workflow,
// of a router that crashed between commit and register, and of the days before snapkeeper. It also
// ends the snapshot workflows whose image someone removed behind their back.
import { TimeoutType } from '@temporalio/common';
import { ActivityFailure, TimeoutFailure, log, proxyActivities } from '@temporalio/workflow';
import type { BudgetControlActivities } from '../activities/budget-activities.js';
import type {
  ReconcileControlActivities,
  ReconcileHostActivities,
} from '../activities/reconcile-activities.js';
import { NON_RETRYABLE_DOCKER_ERRORS } from '../shared/errors.js';
import { dockerTaskQueue, snapshotWorkflowId } from '../shared/names.js';
import type {
  ManagedImage,
  ReconcileReport,
  ReconcileResult,
  ReconcileWorkflowInput,
  SnapshotOwnerView,
} from './reconcile-types.js';
import { describeOwners } from './owners.js';
import { REPORT_LIST_LIMIT } from './reconcile-types.js';

export type { ReconcileWorkflowInput, ReconcileResult, ReconcileReport } from './reconcile-types.js';

/** Orphans are re-checked against their owners, then removed, this many at a time. */
const REMOVAL_BATCH = 10;

const control = proxyActivities<ReconcileControlActivities & BudgetControlActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 3 },
});

export async function reconcileWorkflow(input: ReconcileWorkflowInput): Promise<ReconcileResult> {
  const hosts = input.hosts?.length ? [...new Set(input.hosts)] : await control.listKnownHosts();
  const reports = await Promise.all(hosts.map((host) => reconcileHost(host, input)));
  return { reports };
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

async function reconcileHost(host: string, input: ReconcileWorkflowInput): Promise<ReconcileReport> {
  const docker = proxyActivities<ReconcileHostActivities>({
    taskQueue: dockerTaskQueue(host),
    // A host whose Docker worker is down is reported as such instead of holding the run forever.
    scheduleToStartTimeout: `${input.hostTimeoutSeconds ?? 60} seconds`,
    startToCloseTimeout: '2 minutes',
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_DOCKER_ERRORS },
  });
  const grace = input.orphanGraceSeconds;
  const report: ReconcileReport = {
    host,
    startedAt: new Date(Date.now()).toISOString(),
    finishedAt: '',
    dryRun: input.dryRun,
    orphanGraceSeconds: grace,
    managedImages: 0,
    owned: 0,
    orphansRemoved: [],
    orphansKeptYoung: [],
    blocked: [],
    vanished: [],
    unverified: [],
    counts: {
      orphansRemoved: 0,
      orphanBytesRemoved: 0,
      orphansKeptYoung: 0,
      blocked: 0,
      vanished: 0,
      unverified: 0,
    },
    error: null,
  };
  let unreachable = false;

  try {
    const images = await docker.listManagedImages();
    report.managedImages = images.length;
    // An image can only be owned by the workflow its labels name (registration checks them), so
    // that workflow's own answer decides; visibility adds the open workflows of this host, whose
    // current image may have vanished. Queries, unlike visibility, do not lag.
    const visible = await control.listOpenSnapshotWorkflows({ host });
    const labelled = images.map(ownerOf).filter((id): id is string => id !== null);
    const views = await describeOwners(control.describeSnapshotWorkflows, [...labelled, ...visible]);
    const byId = new Map(views.map((v) => [v.workflowId, v]));
    const owned = held(views);

    const candidates: ManagedImage[] = [];
    for (const image of images) {
      const owner = ownerOf(image);
      const view = owner ? byId.get(owner) : undefined;
      if (owned.has(image.imageId)) report.owned++;
      else if (owner && view?.status === 'error') {
        report.unverified.push({ imageId: image.imageId, workflowId: owner, error: view.error ?? 'unknown' });
      } else if (image.ageSeconds < grace) report.orphansKeptYoung.push(image);
      else candidates.push(image);
    }

    // Open workflows whose current image on this host is not among the managed images: ask the
    // engine by id, since only a 404 proves it vanished.
    const listed = new Set(images.map((i) => i.imageId));
    const suspects = views.flatMap((v) =>
      v.status === 'running' && v.current && v.current.host === host && !listed.has(v.current.imageId)
        ? [{ workflowId: v.workflowId, current: v.current }]
        : [],
    );
    if (suspects.length > 0) {
      const missing = new Set(
        await docker.findMissingImages({ imageIds: suspects.map((s) => s.current.imageId) }),
      );
      for (const { workflowId, current } of suspects) {
        if (!missing.has(current.imageId)) continue;
        report.vanished.push({ workflowId, imageId: current.imageId, image: current.image });
        if (input.dryRun) continue;
        await control.signalVanished({
          workflowId,
          imageId: current.imageId,
          message: `image ${current.image} (${current.imageId}) vanished from host ${host}`,
        });
      }
    }

    if (input.dryRun) report.orphansRemoved = candidates;
    for (let i = 0; !input.dryRun && i < candidates.length; i += REMOVAL_BATCH) {
      // Fence, then ask the owners once more right before removing: a registration may have come
      // in since, and one that starts after the fence refuses these images.
      const batch = candidates.slice(i, i + REMOVAL_BATCH);
      await docker.fenceOrphanImages({ imageIds: batch.map((b) => b.imageId) });
      const again = await describeOwners(
        control.describeSnapshotWorkflows,
        batch.map(ownerOf).filter((id): id is string => id !== null),
      );
      const heldNow = held(again);
      const failedNow = new Set(again.filter((v) => v.status === 'error').map((v) => v.workflowId));
      const go: ManagedImage[] = [];
      for (const image of batch) {
        const owner = ownerOf(image);
        if (heldNow.has(image.imageId)) report.owned++;
        else if (owner && failedNow.has(owner)) {
          report.unverified.push({ imageId: image.imageId, workflowId: owner, error: 'owner query failed' });
        } else go.push(image);
      }
      const spared = batch.filter((b) => !go.includes(b)).map((b) => b.imageId);
      if (spared.length > 0) await docker.unfenceImages({ imageIds: spared });
      if (go.length === 0) continue;
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
            report.orphansRemoved.push(image);
            break;
          case 'too-young':
            report.orphansKeptYoung.push(image);
            break;
          case 'in-use':
            report.blocked.push({
              imageId: image.imageId,
              tags: image.tags,
              reason: `in use by container(s) ${short(result.holders, 12)}`,
              holders: result.holders,
            });
            break;
          case 'held-by-children':
            report.blocked.push({
              imageId: image.imageId,
              tags: image.tags,
              reason: `its layers are held by child image(s) ${short(result.holders, 19)}`,
              holders: result.holders,
            });
            break;
          case 'unmanaged':
            break;
        }
      });
    }
  } catch (err) {
    report.error = failureMessage(err);
    unreachable = isScheduleToStartTimeout(err);
    log.warn('reconcile of a host failed', { host, error: report.error });
  }
  report.finishedAt = new Date(Date.now()).toISOString();
  capLists(report);

  // The host's worker records the run in its metrics, unless it is the part that is down.
  if (!unreachable) {
    try {
      await docker.recordReconcileReport(report);
    } catch (err) {
      log.warn('could not record the reconcile report on the host', { host, error: failureMessage(err) });
    }
  }
  if (!input.dryRun && !report.error) {
    // Budgets are enforced at registration; this catches what changed between registrations
    // (disk filled by other means, owners terminated) once an interval.
    try {
      await control.checkBudget({ host, discover: true });
    } catch (err) {
      log.warn('budget check failed', { host, error: failureMessage(err) });
    }
  }
  return report;
}

/** Exact counts, and lists short enough for a workflow result (a first run may find thousands). */
function capLists(report: ReconcileReport): void {
  report.counts = {
    orphansRemoved: report.orphansRemoved.length,
    orphanBytesRemoved: report.orphansRemoved.reduce((sum, i) => sum + i.sizeBytes, 0),
    orphansKeptYoung: report.orphansKeptYoung.length,
    blocked: report.blocked.length,
    vanished: report.vanished.length,
    unverified: report.unverified.length,
  };
  report.orphansRemoved = report.orphansRemoved.slice(0, REPORT_LIST_LIMIT);
  report.orphansKeptYoung = report.orphansKeptYoung.slice(0, REPORT_LIST_LIMIT);
  report.blocked = report.blocked.slice(0, REPORT_LIST_LIMIT);
  report.vanished = report.vanished.slice(0, REPORT_LIST_LIMIT);
  report.unverified = report.unverified.slice(0, REPORT_LIST_LIMIT);
}

function isScheduleToStartTimeout(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START
  );
}

function failureMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
