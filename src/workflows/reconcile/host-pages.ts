// The page steps of one host's reconcile (workflow code): what to do with a page of the host's
// managed images, and with a page of the open snapshot workflows that name the host. The host
// workflow (workflow.ts) walks the pages and continues as new; this class decides each page.
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import type { BudgetControlActivities } from '../../activities/budget-control-activities.js';
import type { ReconcileControlActivities } from '../../activities/reconcile-control-activities.js';
import type {
  ReconcileHostActivities,
  RemoveOrphanResult,
} from '../../activities/reconcile-host-activities.js';
import { snapshotWorkflowId } from '../../contract/names.js';
import type { ManagedImage, SnapshotOwnerView } from '../../contract/reconcile-types.js';
import { TAGS_PER_IMAGE_LIMIT } from '../../contract/reconcile-types.js';
import { describeOwners } from '../shared/owners.js';
import type { ReportRecorder } from './report.js';

export type ReconcileDocker = ActivityInterfaceFor<ReconcileHostActivities>;
export type ReconcileControl = ActivityInterfaceFor<ReconcileControlActivities & BudgetControlActivities>;

/** Orphans are fenced, re-checked against their owners, then removed, this many at a time. */
const REMOVAL_BATCH = 100;

function ownerOf(image: ManagedImage): string | null {
  return image.projectId && image.workItemId ? snapshotWorkflowId(image.projectId, image.workItemId) : null;
}

function ownersOf(images: ManagedImage[]): string[] {
  return images.map(ownerOf).filter((id): id is string => id !== null);
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

const short = (ids: string[], n: number) => ids.map((h) => h.slice(0, n)).join(', ');

export interface HostPagesDeps {
  host: string;
  dryRun: boolean;
  orphanGraceSeconds: number;
  /** The run's listing on the host's worker, the same across continue-as-new. */
  listing: string;
  docker: ReconcileDocker;
  control: ReconcileControl;
  record: ReportRecorder;
}

export class HostPages {
  constructor(private readonly deps: HostPagesDeps) {}

  /** The decision for one page of managed images. */
  async decideImages(images: ManagedImage[]): Promise<void> {
    const { control, record, dryRun } = this.deps;
    record.report.managedImages += images.length;
    // An image can only be owned by the workflow its labels name (registration checks them), so
    // that workflow's own answer decides. Queries, unlike visibility, do not lag.
    const views = await describeOwners(control.describeSnapshotWorkflows, ownersOf(images));
    record.repairedAmong(views);
    const byOwner = new Map(views.map((v) => [v.workflowId, v]));
    const owned = held(views);

    const candidates: ManagedImage[] = [];
    for (const image of images) {
      const owner = ownerOf(image);
      const view = owner ? byOwner.get(owner) : undefined;
      if (owned.has(image.imageId)) record.owned();
      else if (owner && view?.status === 'error') {
        record.unverified({ imageId: image.imageId, workflowId: owner, error: view.error ?? 'unknown' });
      } else if (image.keptBy) record.kept(image, image.keptBy.references, image.keptBy.derived);
      else if (image.ageSeconds < this.deps.orphanGraceSeconds) record.young(image);
      else candidates.push(image);
    }
    await this.endVanished(views, new Set(images.map((i) => i.imageId)));

    if (dryRun) {
      // A live lease keeps a commit in flight whatever its age: the real run's removal answers
      // too-young for it (reconcile-host-activities.ts), so the dry run counts it young as well.
      // Only the report differs, not the commands: no patch needed.
      candidates.forEach((c) => (c.lease ? record.young(c) : record.removed(c)));
      return;
    }
    for (let i = 0; i < candidates.length; i += REMOVAL_BATCH) {
      await this.removeBatch(candidates.slice(i, i + REMOVAL_BATCH));
    }
  }

  /**
   * Open workflows of this host (visibility) that no managed image here names were not asked in
   * the image pages; their current image may be the one that vanished.
   */
  async checkUnlabelledOwners(workflowIds: string[]): Promise<void> {
    if (workflowIds.length === 0) return;
    const { docker, control, listing } = this.deps;
    const unseen = await docker.workflowsWithoutImages({ listing, workflowIds });
    if (unseen.length === 0) return;
    await this.endVanished(await describeOwners(control.describeSnapshotWorkflows, unseen), new Set());
  }

  /** Running owners whose current image on this host was not seen: only a 404 proves it vanished. */
  private async endVanished(views: SnapshotOwnerView[], seen: Set<string>): Promise<void> {
    const { host, docker, control, record, listing, dryRun } = this.deps;
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

  private async removeBatch(batch: ManagedImage[]): Promise<void> {
    const { docker, control, record } = this.deps;
    // Fence, then ask the owners once more right before removing: a registration may have come
    // in since, and one that starts after the fence refuses these images.
    await docker.fenceOrphanImages({ imageIds: batch.map((b) => b.imageId) });
    const again = await describeOwners(control.describeSnapshotWorkflows, ownersOf(batch));
    record.repairedAmong(again);
    const heldNow = held(again);
    const failedNow = new Set(again.filter((v) => v.status === 'error').map((v) => v.workflowId));
    const go: ManagedImage[] = [];
    for (const image of batch) {
      const owner = ownerOf(image);
      if (heldNow.has(image.imageId)) record.owned();
      else if (owner && failedNow.has(owner)) {
        record.unverified({ imageId: image.imageId, workflowId: owner, error: 'owner query failed' });
      } else go.push(image);
    }
    const spared = batch.filter((b) => !go.includes(b)).map((b) => b.imageId);
    if (spared.length > 0) await docker.unfenceImages({ imageIds: spared });
    if (go.length === 0) return;
    const results = await docker.removeOrphanImages({
      imageIds: go.map((g) => g.imageId),
      orphanGraceSeconds: this.deps.orphanGraceSeconds,
    });
    go.forEach((image, k) => {
      const result = results[k];
      if (result) this.recordRemoval(image, result);
    });
  }

  private recordRemoval(image: ManagedImage, result: RemoveOrphanResult): void {
    const { record } = this.deps;
    const holders = result.holders.slice(0, TAGS_PER_IMAGE_LIMIT);
    // The batch's measure rides on its last removal (one df before and after a batch, not per image).
    if (result.batchFreedBytes !== undefined)
      record.freed(result.batchFreedBytes, result.batchFreedBytesMeasure ?? 'measured');
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
          reason: `in use by container(s) ${short(holders, 12)}`,
          holders: result.holders,
        });
        break;
      case 'held-by-children':
        record.blocked({
          imageId: image.imageId,
          tags: image.tags,
          reason: `its layers are held by child image(s) ${short(holders, 19)}`,
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
  }
}
