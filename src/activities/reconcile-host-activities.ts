// Activities of the reconciler that run on the Docker queue of the host they inspect: list the
// managed images, fence, unfence and remove orphans, record the run's report.
import type { Client } from '@temporalio/client';
import type { DockerPort, ImageInfo } from '../docker/docker-port.js';
import type { FreedBytes } from '../docker/freed-bytes.js';
import { containersUsing, keepImage, releaseImage } from '../docker/release-image.js';
import { attributeReferences } from '../contract/image-references.js';
import type { Logger } from '../logging/logger.js';
import {
  LABEL_COMMIT,
  LABEL_LEASE,
  LABEL_MANAGED,
  LABEL_PROJECT,
  LABEL_WORK_ITEM,
  REAPING_REPOSITORY,
  imageIdTag,
  reapingTag,
  snapshotWorkflowId,
} from '../contract/names.js';
import type { ManagedImage, ManagedImagePage, ReconcileReport } from '../contract/reconcile-types.js';
import { TAGS_PER_IMAGE_LIMIT } from '../contract/reconcile-types.js';
import type { LeaseLookup } from '../service/lease-status.js';
import { createLeaseLookup } from '../service/lease-status.js';
import { measureBatch } from './batch-freed-bytes.js';
import { heartbeating } from './heartbeat.js';
import { createLeaseGuard } from './lease-guard.js';
import type { UpkeepMetrics } from './upkeep-metrics.js';

export interface ReconcileHostDeps {
  docker: DockerPort;
  log: Logger;
  metrics?: UpkeepMetrics;
  /** The clock the age checks use (tests move it). */
  now?: () => number;
  /** Asks the lease workflows (a lease label protects an orphan while its lease lives). */
  client?: Client | undefined;
  /** Instead of asking through `client` (tests). */
  leaseLookup?: LeaseLookup;
  /** The host whose engine `docker` talks to: labels the freed-bytes metric. */
  hostId?: string | undefined;
}

export interface RemoveOrphanInput {
  imageId: string;
  orphanGraceSeconds: number;
}

export interface RemoveOrphanResult {
  outcome:
    | 'removed'
    | 'already-gone'
    | 'too-young'
    | 'in-use'
    | 'held-by-children'
    | 'unmanaged'
    | 'kept'
    | 'blocked';
  /** Containers (in-use), child images (held-by-children), references that keep it (kept). */
  holders: string[];
  reason?: string;
  /**
   * What the whole batch freed on the engine's disk (df LayersSize before less after it), on the
   * batch's last removed result only: a batch is measured once, not image by image.
   */
  batchFreedBytes?: number;
  /** `estimated` when something else changed the engine's images during the batch. */
  batchFreedBytesMeasure?: FreedBytes['measure'];
}

/**
 * The attribution rule for an image no snapshot holds: kept (with what keeps it) when it is built
 * from a snapshot or a reference snapkeeper cannot attribute names it.
 */
function keptBy(info: ImageInfo): { references: string[]; derived: boolean } | null {
  const a = attributeReferences(info);
  return a.derived || a.foreign.length > 0 ? { references: a.foreign, derived: a.derived } : null;
}

const MANAGED_FILTER = `${LABEL_MANAGED}=true`;

/** A listing is kept this long for the pages of one run, then made again. */
const LISTING_TTL_MS = 30 * 60_000;
const LISTINGS_KEPT = 4;

interface Listing {
  madeAt: number;
  /** Managed images in image id order; ages are computed when a page is served. */
  images: ImageInfo[];
  ids: Set<string>;
  /** Snapshot workflows named by the images' labels. */
  owners: Set<string>;
}

const byId = (a: ImageInfo, b: ImageInfo) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function ownerOfLabels(labels: Record<string, string>): string | null {
  const projectId = labels[LABEL_PROJECT];
  const workItemId = labels[LABEL_WORK_ITEM];
  return projectId && workItemId ? snapshotWorkflowId(projectId, workItemId) : null;
}

export function createReconcileHostActivities({
  docker,
  log,
  metrics,
  now = Date.now,
  client,
  leaseLookup,
  hostId,
}: ReconcileHostDeps) {
  const leaseOf = createLeaseGuard({
    lookup: leaseLookup ?? (client ? createLeaseLookup(client) : undefined),
    log,
  });
  // The engine lists all images in one call; listing 20,000 of them for every page of one run would
  // cost more than the run itself. The cache is only a shortcut: a page is defined by its cursor (an
  // image id), so a worker without the listing (restarted, or another one) lists again and goes on.
  const listings = new Map<string, Listing>();

  async function listing(key: string, fresh: boolean): Promise<Listing> {
    const t = now();
    for (const [k, l] of listings) if (t - l.madeAt > LISTING_TTL_MS) listings.delete(k);
    const kept = listings.get(key);
    if (kept && !fresh) return kept;
    const images = (await docker.listImages({ labels: [MANAGED_FILTER] }))
      .filter((i) => i.labels[LABEL_MANAGED] === 'true')
      .sort(byId);
    const owners = new Set<string>();
    for (const i of images) {
      const owner = ownerOfLabels(i.labels);
      if (owner) owners.add(owner);
    }
    const made: Listing = { madeAt: t, images, ids: new Set(images.map((i) => i.id)), owners };
    listings.delete(key);
    listings.set(key, made);
    while (listings.size > LISTINGS_KEPT) listings.delete(listings.keys().next().value as string);
    return made;
  }

  const toManaged = (i: ImageInfo, t: number): ManagedImage => ({
    imageId: i.id,
    tags: i.repoTags.slice(0, TAGS_PER_IMAGE_LIMIT),
    projectId: i.labels[LABEL_PROJECT] ?? null,
    workItemId: i.labels[LABEL_WORK_ITEM] ?? null,
    createdAt: i.createdAt,
    ageSeconds: Math.max(0, Math.floor((t - Date.parse(i.createdAt)) / 1000)),
    sizeBytes: i.sizeBytes,
  });

  /**
   * Removes one orphan, after checking again what the reconciler saw: the managed label, the age
   * (on this host's clock), and that no container (running or not) uses it. Never forced; a 404
   * at any step means someone else removed it, which is success.
   */
  async function removeOrphan(
    input: RemoveOrphanInput,
    onRemoved?: (info: ImageInfo) => void,
  ): Promise<RemoveOrphanResult> {
    const info = await docker.inspectImage(input.imageId);
    if (!info) return { outcome: 'already-gone', holders: [] };
    if (info.labels[LABEL_MANAGED] !== 'true') {
      log.error({ imageId: info.id }, 'reconciler refused to remove an image without the managed label');
      return { outcome: 'unmanaged', holders: [] };
    }
    if (now() - Date.parse(info.createdAt) < input.orphanGraceSeconds * 1000) {
      return { outcome: 'too-young', holders: [] };
    }
    // A live lease keeps a commit in flight, whatever its age; the report counts it as young
    // (protected by time: the lease's), and the next run after the lease ends takes it.
    const lease = await leaseOf(info);
    if (lease.protect) return { outcome: 'too-young', holders: [], reason: lease.reason };
    const kept = keptBy(info);
    if (kept) {
      // A reference appeared since the listing: snapkeeper's own tags (the fence) go, unless one
      // is all that names a derived image, whose references are never snapkeeper's to delete.
      const a = attributeReferences(info);
      if (a.foreign.length > 0) await keepImage(docker, info, a, false);
      return { outcome: 'kept', holders: kept.references };
    }
    const users = await containersUsing(docker, info.id);
    if (users.length > 0) return { outcome: 'in-use', holders: users };
    // noprune inside: an untagged parent may still be someone's, and is listed (and judged) on its own if not.
    const result = await releaseImage(docker, info, attributeReferences(info), (now) =>
      attributeReferences(now),
    );
    log.info(
      { imageId: info.id, tags: info.repoTags, outcome: result.outcome },
      'orphaned snapshot image released',
    );
    if (result.outcome === 'removed') onRemoved?.(info);
    return result;
  }

  let warnedMeasure = false;
  /**
   * Runs removals between two measures of the engine (one df before, one after), then counts what
   * they freed in the metrics and on the last removed result.
   */
  async function measured(
    run: (onRemoved: (info: ImageInfo) => void) => Promise<RemoveOrphanResult[]>,
  ): Promise<RemoveOrphanResult[]> {
    const removed: ImageInfo[] = [];
    const { result, freed } = await measureBatch(
      docker,
      () => run((info) => removed.push(info)),
      () => removed,
      (err) => {
        // Once per process: an engine without df would repeat this at every batch.
        if (warnedMeasure) return;
        warnedMeasure = true;
        log.warn(
          { error: err instanceof Error ? err.message : String(err) },
          'cannot measure the bytes orphan removals free (docker system df failed); removals go on unmeasured',
        );
      },
    );
    if (!freed) return result;
    metrics?.recordFreed?.(hostId ?? '', freed);
    log.info(
      { removed: removed.length, freedBytes: freed.bytes, freedBytesMeasure: freed.measure },
      'orphan removals freed',
    );
    let last = -1;
    result.forEach((r, i) => {
      if (r.outcome === 'removed') last = i;
    });
    return result.map((r, i) =>
      i === last ? { ...r, batchFreedBytes: freed.bytes, batchFreedBytesMeasure: freed.measure } : r,
    );
  }

  return heartbeating({
    /**
     * One page of this host's managed images (label filter), in image id order, with their age on
     * the host's clock. `listing` names the run's listing; `after: null` makes a fresh one.
     */
    async listManagedImagesPage(input: {
      listing: string;
      after: string | null;
      limit: number;
    }): Promise<ManagedImagePage> {
      const l = await listing(input.listing, input.after === null);
      let start = 0;
      if (input.after !== null) {
        // First image id after the cursor (binary search: the listing is sorted).
        let lo = 0;
        let hi = l.images.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if ((l.images[mid] as ImageInfo).id <= input.after) lo = mid + 1;
          else hi = mid;
        }
        start = lo;
      }
      const limit = Math.max(1, Math.min(input.limit, 1000));
      const page = l.images.slice(start, start + limit);
      const t = now();
      const last = page[page.length - 1];
      const images: ManagedImage[] = [];
      for (const i of page) {
        // Listings carry no Comment: a declared commit needs its inspection to tell it from an
        // image built from it.
        const info = i.labels[LABEL_COMMIT] ? await docker.inspectImage(i.id) : i;
        const kept = info ? keptBy(info) : null;
        // Only images that carry the label cost a lease check (commits in flight: few).
        const leased = i.labels[LABEL_LEASE] !== undefined ? await leaseOf(i) : null;
        images.push({
          ...toManaged(i, t),
          ...(kept ? { keptBy: kept } : {}),
          ...(leased?.protect
            ? { lease: { leaseId: i.labels[LABEL_LEASE] as string, reason: leased.reason } }
            : {}),
        });
      }
      return {
        images,
        next: last && start + limit < l.images.length ? last.id : null,
        total: l.images.length,
      };
    },

    /**
     * The ids among these that the engine does not know (404). An id in the run's listing is there;
     * only the others are asked, and only a 404 counts as missing.
     */
    async findMissingImages(input: { imageIds: string[]; listing?: string }): Promise<string[]> {
      const listed = input.listing ? listings.get(input.listing)?.ids : undefined;
      const missing: string[] = [];
      for (const id of input.imageIds) {
        if (listed?.has(id)) continue;
        if (!(await docker.inspectImage(id))) missing.push(id);
      }
      return missing;
    },

    /** The workflow ids among these that no managed image of the run's listing names. */
    async workflowsWithoutImages(input: { listing: string; workflowIds: string[] }): Promise<string[]> {
      const l = await listing(input.listing, false);
      return input.workflowIds.filter((w) => !l.owners.has(w));
    },

    /**
     * Tags orphan candidates before the owners are asked a last time: from then on a registration
     * refuses them, and one that finished before is seen by that last owner query. Returns the ids
     * fenced (gone or unmanaged ones are skipped).
     */
    async fenceOrphanImages(input: { imageIds: string[] }): Promise<string[]> {
      const fenced: string[] = [];
      for (const id of input.imageIds) {
        const info = await docker.inspectImage(id);
        if (!info || info.labels[LABEL_MANAGED] !== 'true') continue;
        // Never fence a leased commit: its registration, which may come any moment, would be refused.
        if ((await leaseOf(info)).protect) continue;
        await docker.tagImage(info.id, REAPING_REPOSITORY, imageIdTag(info.id));
        fenced.push(info.id);
      }
      return fenced;
    },

    /**
     * Takes the fence off images that turned out to be owned. Never the last reference: untagging
     * that would delete the image, so a fence that is the only tag stays (and only blocks a
     * re-registration of the same image).
     */
    async unfenceImages(input: { imageIds: string[] }): Promise<void> {
      for (const id of input.imageIds) {
        const info = await docker.inspectImage(id);
        const fence = reapingTag(id);
        if (!info || !info.repoTags.includes(fence) || info.repoTags.length < 2) continue;
        await docker.removeImage(fence, { noprune: true });
      }
    },

    /** One orphan: see removeOrphan. */
    async removeOrphanImage(input: RemoveOrphanInput): Promise<RemoveOrphanResult> {
      const [result] = await measured(async (onRemoved) => [await removeOrphan(input, onRemoved)]);
      return result as RemoveOrphanResult;
    },

    /** removeOrphanImage for a batch, one after the other: fewer events in the reconcile's history. */
    async removeOrphanImages(input: {
      imageIds: string[];
      orphanGraceSeconds: number;
    }): Promise<RemoveOrphanResult[]> {
      return measured(async (onRemoved) => {
        const results: RemoveOrphanResult[] = [];
        for (const imageId of input.imageIds) {
          results.push(
            await removeOrphan({ imageId, orphanGraceSeconds: input.orphanGraceSeconds }, onRemoved),
          );
        }
        return results;
      });
    },

    /** Logs a finished run and exports it as metrics of this host's worker. */
    async recordReconcileReport(report: ReconcileReport): Promise<void> {
      metrics?.recordReconcile(report);
      const summary = {
        host: report.host,
        dryRun: report.dryRun,
        managedImages: report.managedImages,
        owned: report.owned,
        counts: report.counts,
        orphansRemoved: report.orphansRemoved.map((i) => i.imageId),
        blocked: report.blocked.map((b) => `${b.imageId}: ${b.reason}`),
        vanished: report.vanished.map((v) => v.workflowId),
        error: report.error,
      };
      if (report.error) log.warn(summary, 'reconcile failed');
      else log.info(summary, 'reconcile finished');
    },
  });
}

export type ReconcileHostActivities = ReturnType<typeof createReconcileHostActivities>;
