// Activities of the reconciler. The host ones run on the Docker queue of the host they inspect; the
// control ones talk to Temporal (visibility, queries, signals) and run on the workflow queue.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { DockerPort, ImageInfo } from '../docker/docker-port.js';
import { keepImage, releaseImage } from '../docker/release-image.js';
import { attributeReferences } from '../contract/image-references.js';
import type { Logger } from '../logging/logger.js';
import { ErrorType } from '../contract/errors.js';
import { HOST_ID_PATTERN } from '../contract/limits.js';
import {
  LABEL_COMMIT,
  LABEL_MANAGED,
  LABEL_PROJECT,
  LABEL_WORK_ITEM,
  REAPING_REPOSITORY,
  hostOfReconcileSchedule,
  imageIdTag,
  reapingTag,
  snapshotWorkflowId,
} from '../contract/names.js';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../contract/search-attribute-keys.js';
import type { SnapshotWorkflowView } from '../contract/snapshot-types.js';
import type { UpkeepMetrics } from './upkeep-metrics.js';
import { stateQuery, vanishedSignal } from '../contract/messages.js';
import type {
  ManagedImage,
  ManagedImagePage,
  ReconcileReport,
  SnapshotOwnerView,
  WorkflowIdPage,
} from '../contract/reconcile-types.js';
import { TAGS_PER_IMAGE_LIMIT } from '../contract/reconcile-types.js';
import { heartbeating } from './heartbeat.js';
import { mapLimit } from './map-limit.js';

export interface ReconcileHostDeps {
  docker: DockerPort;
  log: Logger;
  metrics?: UpkeepMetrics;
  /** The clock the age checks use (tests move it). */
  now?: () => number;
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

export function createReconcileHostActivities({ docker, log, metrics, now = Date.now }: ReconcileHostDeps) {
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

  const containersUsing = async (imageId: string) =>
    (await docker.listContainers()).filter((c) => c.imageId === imageId).map((c) => c.id);

  /**
   * Removes one orphan, after checking again what the reconciler saw: the managed label, the age
   * (on this host's clock), and that no container (running or not) uses it. Never forced; a 404
   * at any step means someone else removed it, which is success.
   */
  async function removeOrphan(input: RemoveOrphanInput): Promise<RemoveOrphanResult> {
    const info = await docker.inspectImage(input.imageId);
    if (!info) return { outcome: 'already-gone', holders: [] };
    if (info.labels[LABEL_MANAGED] !== 'true') {
      log.error({ imageId: info.id }, 'reconciler refused to remove an image without the managed label');
      return { outcome: 'unmanaged', holders: [] };
    }
    if (now() - Date.parse(info.createdAt) < input.orphanGraceSeconds * 1000) {
      return { outcome: 'too-young', holders: [] };
    }
    const kept = keptBy(info);
    if (kept) {
      // A reference appeared since the listing: snapkeeper's own tags (the fence) go, unless one
      // is all that names a derived image, whose references are never snapkeeper's to delete.
      const a = attributeReferences(info);
      if (a.foreign.length > 0) await keepImage(docker, info, a, false);
      return { outcome: 'kept', holders: kept.references };
    }
    const users = await containersUsing(info.id);
    if (users.length > 0) return { outcome: 'in-use', holders: users };
    // noprune inside: an untagged parent may still be someone's, and is listed (and judged) on its own if not.
    const result = await releaseImage(docker, info, attributeReferences(info), (now) =>
      attributeReferences(now),
    );
    log.info(
      { imageId: info.id, tags: info.repoTags, outcome: result.outcome },
      'orphaned snapshot image released',
    );
    return result;
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
        images.push({ ...toManaged(i, t), ...(kept ? { keptBy: kept } : {}) });
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
    removeOrphanImage: removeOrphan,

    /** removeOrphanImage for a batch, one after the other: fewer events in the reconcile's history. */
    async removeOrphanImages(input: {
      imageIds: string[];
      orphanGraceSeconds: number;
    }): Promise<RemoveOrphanResult[]> {
      const results: RemoveOrphanResult[] = [];
      for (const imageId of input.imageIds) {
        results.push(await removeOrphan({ imageId, orphanGraceSeconds: input.orphanGraceSeconds }));
      }
      return results;
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

export interface ControlDeps {
  /** A Temporal client; the control activities run on the workflow queue, where one exists. */
  client?: Client;
  log: Logger;
}

export function requireClient(client: Client | undefined): Client {
  if (!client) {
    throw ApplicationFailure.nonRetryable(
      'this worker has no Temporal client for control activities (createActivities needs `client`)',
      ErrorType.invalidRequest,
    );
  }
  return client;
}

const QUERY_CONCURRENCY = 16;

export function openSnapshotsQuery(host?: string): string {
  const base = `WorkflowType='snapshotWorkflow' AND ExecutionStatus='Running'`;
  if (host === undefined) return base;
  if (!HOST_ID_PATTERN.test(host)) throw new Error(`invalid host id ${JSON.stringify(host)}`);
  return `${base} AND ${SEARCH_ATTRIBUTES.host}='${host}'`;
}

/** Asks one snapshot workflow which images it holds: only a running one holds any. */
export async function describeSnapshotOwner(client: Client, workflowId: string): Promise<SnapshotOwnerView> {
  const empty = { workflowId, images: [], current: null, error: null };
  try {
    const handle = client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    // A closed run still answers queries by replay (a terminated one with the image it held
    // then): only the status tells whether anyone still owns anything.
    if (description.status.name !== 'RUNNING') return { ...empty, status: 'closed' };
    const view: SnapshotWorkflowView = await handle.query(stateQuery);
    const images: SnapshotOwnerView['images'] = [];
    if (view.current) {
      images.push({
        imageId: view.current.imageId,
        image: view.current.image,
        host: view.current.host,
        role: 'current',
      });
    }
    for (const r of view.retiring)
      images.push({ imageId: r.imageId, image: r.image, host: r.host, role: 'retiring' });
    const c = view.current;
    return {
      ...empty,
      status: 'running',
      images,
      current: c
        ? {
            imageId: c.imageId,
            image: c.image,
            host: c.host,
            projectId: c.projectId,
            sizeBytes: c.sizeBytes,
            createdAt: c.createdAt,
            lastUsedAt: c.lastUsedAt,
          }
        : null,
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { ...empty, status: 'not-found' };
    return { ...empty, status: 'error', error: err instanceof Error ? err.message : String(err) };
  }
}

/** Visibility's page size is capped by the server (1,000 by default). */
const MAX_VISIBILITY_PAGE = 1000;

/** One page of a visibility query's workflow ids, with the token for the next one. */
export async function listWorkflowIdsPage(
  client: Client,
  query: string,
  pageToken: string | null,
  pageSize: number,
): Promise<WorkflowIdPage> {
  const response = await client.workflowService.listWorkflowExecutions({
    namespace: client.options.namespace,
    query,
    pageSize: Math.max(1, Math.min(pageSize, MAX_VISIBILITY_PAGE)),
    ...(pageToken ? { nextPageToken: Buffer.from(pageToken, 'base64') } : {}),
  });
  const workflowIds = (response.executions ?? []).flatMap((e) =>
    e.execution?.workflowId ? [e.execution.workflowId] : [],
  );
  const token = response.nextPageToken;
  return { workflowIds, next: token && token.length > 0 ? Buffer.from(token).toString('base64') : null };
}

export function createReconcileControlActivities({ client, log }: ControlDeps) {
  return heartbeating({
    /** Hosts with a reconcile schedule (one per Docker worker) or an open snapshot workflow. */
    async listKnownHosts(): Promise<string[]> {
      const c = requireClient(client);
      const hosts = new Set<string>();
      for await (const schedule of c.schedule.list()) {
        const host = hostOfReconcileSchedule(schedule.scheduleId);
        if (host && HOST_ID_PATTERN.test(host)) hosts.add(host);
      }
      for await (const wf of c.workflow.list({ query: openSnapshotsQuery() })) {
        const host = wf.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.host);
        if (typeof host === 'string' && HOST_ID_PATTERN.test(host)) hosts.add(host);
      }
      return [...hosts].sort();
    },

    /**
     * One page of the open snapshot workflows whose shown image is on this host, from visibility
     * (which lags). `pageToken` is the previous page's `next`.
     */
    async listOpenSnapshotWorkflowsPage(input: {
      host: string;
      pageToken: string | null;
      pageSize: number;
    }): Promise<WorkflowIdPage> {
      return listWorkflowIdsPage(
        requireClient(client),
        openSnapshotsQuery(input.host),
        input.pageToken,
        input.pageSize,
      );
    },

    /** Status and held images of each workflow: the owner check, by query, not by visibility. */
    async describeSnapshotWorkflows(input: { workflowIds: string[] }): Promise<SnapshotOwnerView[]> {
      const c = requireClient(client);
      const unique = [...new Set(input.workflowIds)];
      return mapLimit(unique, QUERY_CONCURRENCY, (id) => describeSnapshotOwner(c, id));
    },

    /** Tells a snapshot workflow its image is gone; 'gone' when the workflow is closed or absent. */
    async signalVanished(input: {
      workflowId: string;
      imageId: string;
      message: string;
    }): Promise<'signalled' | 'gone'> {
      const c = requireClient(client);
      try {
        await c.workflow
          .getHandle(input.workflowId)
          .signal(vanishedSignal, { imageId: input.imageId, message: input.message });
        log.warn(input, 'snapshot image vanished from its engine; its workflow was told');
        return 'signalled';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 'gone';
        throw err;
      }
    },
  });
}

export type ReconcileControlActivities = ReturnType<typeof createReconcileControlActivities>;
