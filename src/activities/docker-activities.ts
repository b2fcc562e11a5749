import { ApplicationFailure } from '@temporalio/common';
import type { DockerPort, ImageInfo } from '../docker/docker-port.js';
import { DockerError } from '../docker/docker-port.js';
import type { FreedBytes } from '../docker/freed-bytes.js';
import { createFreedBytesMeter } from '../docker/freed-bytes.js';
import type { ReleaseResult, RemovalBlock } from '../docker/release-image.js';
import {
  childrenOf,
  containersUsing,
  keepImage,
  releaseImage,
  removalBlock,
} from '../docker/release-image.js';
import type { Logger } from '../logging/logger.js';
import type { BudgetHeadroom } from './budget-headroom.js';
import { heartbeating } from './heartbeat.js';
import type { UpkeepMetrics } from './upkeep-metrics.js';
import { ErrorType } from '../contract/errors.js';
import {
  attributeReferences,
  canonicalTag,
  referenceKind,
  referencesAtRegistration,
} from '../contract/image-references.js';
import {
  HELD_REPOSITORY,
  LABEL_MANAGED,
  LABEL_PROJECT,
  LABEL_WORK_ITEM,
  REAPING_REPOSITORY,
  heldTag,
  imageIdTag,
  reapingTag,
} from '../contract/names.js';
import type { ImageFacts } from '../contract/snapshot-types.js';
import { TAGS_PER_IMAGE_LIMIT } from '../contract/reconcile-types.js';

export interface DockerActivityDeps {
  docker: DockerPort;
  log: Logger;
  /** Whether a registration is far from its host's budget limits; absent: never (always wait). */
  headroom?: BudgetHeadroom | undefined;
  /** Where the bytes each removal freed are counted (the worker's metrics), and for which host. */
  metrics?: UpkeepMetrics | undefined;
  hostId?: string | undefined;
}

export interface ImageOwner {
  projectId: string;
  workItemId: string;
}

export interface InspectSnapshotImageInput extends ImageOwner {
  image: string;
}

export interface InvalidateSnapshotInput extends ImageOwner {
  image: string;
  imageId: string;
  /** The references the snapshot recorded; absent for states recorded before references were. */
  references?: string[];
}

export type InvalidateOutcome = 'untagged' | 'already-gone';

export type { RemovalBlock } from '../docker/release-image.js';

export interface RemoveSnapshotImageInput extends ImageOwner {
  imageId: string;
  /** The references the snapshot recorded; absent for states recorded before references were. */
  references?: string[];
}

export interface RemoveSnapshotImageResult {
  outcome: 'removed' | 'already-gone' | 'in-use' | 'held-by-children' | 'kept' | 'blocked';
  /**
   * Containers (ids) that keep the image, when in-use; child images, when held-by-children; the
   * references snapkeeper does not own that still name it, when kept.
   */
  holders: string[];
  /** blocked: what the engine answered. */
  reason?: string;
  /**
   * removed: the bytes the removal (with the retired parents it took along) freed on the engine's
   * disk, from `docker system df` before and after (src/docker/freed-bytes.ts). Absent when nothing
   * was removed or the engine could not be measured.
   */
  freedBytes?: number;
  /** How freedBytes was arrived at: `measured`, or `estimated` when other changes to the engine's images overlapped. */
  freedBytesMeasure?: FreedBytes['measure'];
}

/**
 * Both cleanup steps in one activity: the invalidate step's answer when it was blocked, else the
 * remove step's. The workflow goes on step by step from the step that did not finish.
 */
export type RetireSnapshotImageResult =
  { step: 'invalidate'; blocked: RemovalBlock } | { step: 'remove'; result: RemoveSnapshotImageResult };

export function isManagedBy(labels: Record<string, string>, owner: ImageOwner): boolean {
  return (
    labels[LABEL_MANAGED] === 'true' &&
    labels[LABEL_PROJECT] === owner.projectId &&
    labels[LABEL_WORK_ITEM] === owner.workItemId
  );
}

function refuseUnmanaged(image: string, info: ImageInfo, owner: ImageOwner): never {
  throw ApplicationFailure.nonRetryable(
    `image ${image} (${info.id}) is not a managed snapshot of ${owner.projectId}/${owner.workItemId}: ` +
      `it needs the labels ${LABEL_MANAGED}=true, ${LABEL_PROJECT}=${owner.projectId}, ` +
      `${LABEL_WORK_ITEM}=${owner.workItemId}`,
    ErrorType.unmanagedImage,
  );
}

/**
 * Engine failures during registration: 5xx or no answer at all is the engine's trouble (retry
 * later); any other status is the engine refusing this reference.
 */
async function engine<T>(what: string, ref: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof DockerError)) throw err;
    const status = err.statusCode;
    if (status === undefined || status >= 500) {
      throw ApplicationFailure.retryable(
        `the Docker engine failed to ${what} ${ref}${status ? ` (HTTP ${status})` : ''}: ${err.message}; retry later`,
        ErrorType.engineUnavailable,
      );
    }
    throw ApplicationFailure.nonRetryable(
      `the Docker engine refused the image reference ${ref} (HTTP ${status}): ${err.message}`,
      ErrorType.imageNotFound,
    );
  }
}

/**
 * Finds the one image a registration names. A hex string may be a repository name and an id
 * prefix at once, and a prefix may match several images: the engine would silently pick one, so
 * every match is collected and more than one is refused.
 */
async function resolveImage(docker: DockerPort, ref: string): Promise<ImageInfo> {
  const kind = referenceKind(ref);
  let target = ref;
  if (kind === 'id' && !ref.startsWith('sha256:')) target = `sha256:${ref}`;
  if (kind === 'hex') {
    const all = await engine('list images for', ref, () => docker.listImages({ all: true }));
    const matches = new Set(all.filter((i) => i.id.startsWith(`sha256:${ref}`)).map((i) => i.id));
    const named = all.find((i) => i.repoTags.includes(canonicalTag(ref)));
    if (named) matches.add(named.id);
    if (matches.size > 1) {
      const list = [...matches].map((id) => id.slice(7, 19)).join(', ');
      throw ApplicationFailure.nonRetryable(
        `image reference ${ref} is ambiguous on this host: it names ${matches.size} images (${list}${named ? `, ${canonicalTag(ref)} among them` : ''}); register the full image id or a tag`,
        ErrorType.ambiguousReference,
      );
    }
    const only = [...matches][0];
    if (!only) {
      throw ApplicationFailure.nonRetryable(
        `image ${ref} does not exist on this host`,
        ErrorType.imageNotFound,
      );
    }
    target = only;
  }
  const info = await engine('inspect', ref, () => docker.inspectImage(target));
  if (!info) {
    throw ApplicationFailure.nonRetryable(
      `image ${ref} does not exist on this host`,
      ErrorType.imageNotFound,
    );
  }
  return info;
}

export function createDockerActivities({ docker, log, headroom, metrics, hostId }: DockerActivityDeps) {
  let warnedMeasure = false;
  const meter = createFreedBytesMeter(docker, (err) => {
    // Once per process: an engine without df (or failing it) would repeat this at every removal.
    if (warnedMeasure) return;
    warnedMeasure = true;
    log.warn(
      { error: err instanceof Error ? err.message : String(err) },
      'cannot measure the bytes removals free (docker system df failed); removals go on unmeasured',
    );
  });
  /** Logs and counts a removal with what it freed; the answer carries it. */
  const removedWith = <T extends object>(answer: T, imageId: string, freed: FreedBytes | undefined): T => {
    log.info(
      { imageId, ...(freed ? { freedBytes: freed.bytes, freedBytesMeasure: freed.measure } : {}) },
      'snapshot image removed',
    );
    if (!freed) return answer;
    metrics?.recordFreed?.(hostId ?? '', freed);
    return { ...answer, freedBytes: freed.bytes, freedBytesMeasure: freed.measure };
  };
  const activities = {
    /**
     * Registration: resolves the reference (tag, short or full id, digest) to the full id and
     * checks the labels of its work item. An image that no reference names (a retired parent
     * registered again by its id) gets snapkeeper's held tag, so that a current snapshot always
     * carries a reference and the parent walk never takes it. Tagging again is a no-op, so a retry
     * is harmless.
     */
    async inspectSnapshotImage(input: InspectSnapshotImageInput): Promise<ImageFacts> {
      const info = await resolveImage(docker, input.image);
      if (!isManagedBy(info.labels, input)) refuseUnmanaged(input.image, info, input);
      if (info.repoTags.some((t) => t.startsWith(`${REAPING_REPOSITORY}:`))) {
        throw ApplicationFailure.nonRetryable(
          `image ${input.image} (${info.id}) is being removed by the reconciler (it went unregistered ` +
            'for longer than the orphan grace period) or by the parent walk (a retired parent whose last ' +
            'child just went). Commit a new snapshot and register that.',
          ErrorType.invalidRequest,
        );
      }
      if (info.repoTags.length + info.repoDigests.length === 0) {
        await engine('tag', input.image, () =>
          docker.tagImage(info.id, HELD_REPOSITORY, imageIdTag(info.id)),
        );
      }
      const verdict = headroom
        ? await headroom({ projectId: input.projectId, sizeBytes: info.sizeBytes })
        : 'near';
      const references = await registrationReferences(docker, input.image, info);
      return {
        imageId: info.id,
        sizeBytes: info.sizeBytes,
        labels: info.labels,
        createdAt: info.createdAt,
        references,
        layerDepth: info.layers,
        budgetHeadroom: verdict !== 'near',
        ...(verdict === 'uncounted' ? { budgetUncounted: true } : {}),
      };
    },

    /**
     * Removes the reuse reference so no new container starts from the image. Idempotent: a
     * reference that is gone, or that now names another image (a newer commit under the same tag),
     * is left alone and counts as done. An image registered by id or digest has no tag to remove:
     * the lookup stops offering it, which is all invalidation means for it.
     */
    async invalidateSnapshot(input: InvalidateSnapshotInput): Promise<InvalidateOutcome | RemovalBlock> {
      const kind = referenceKind(input.image);
      if (kind === 'id' || kind === 'digest' || input.image === input.imageId) return 'already-gone';
      const tag = canonicalTag(input.image);
      const info = await docker.inspectImage(tag);
      // A hex reference that resolved by id prefix is no tag: nothing to untag.
      if (!info || info.id !== input.imageId || !info.repoTags.includes(tag)) return 'already-gone';
      if (!isManagedBy(info.labels, input)) refuseUnmanaged(input.image, info, input);
      // The held tag keeps the image for removeSnapshotImage (and its checks and parent clean-up)
      // while the reuse reference goes now, even while a container uses the image.
      if (!info.repoTags.includes(heldTag(info.id))) {
        await docker.tagImage(info.id, HELD_REPOSITORY, imageIdTag(info.id));
      }
      try {
        const result = await docker.removeImage(tag, { noprune: true });
        log.info({ image: tag, imageId: input.imageId, result }, 'reuse reference removed');
      } catch (err) {
        return capHolders(await removalBlock(docker, info.id, err));
      }
      return 'untagged';
    },

    /**
     * Removes the snapshot's references, and with the last of them the image, never forced. A
     * reference snapkeeper does not own keeps the image (kept). A container using it is reported
     * as in-use so the workflow can show removal-blocked and retry; the workflow, not this
     * activity, owns the backoff.
     */
    async removeSnapshotImage(input: RemoveSnapshotImageInput): Promise<RemoveSnapshotImageResult> {
      const info = await docker.inspectImage(input.imageId);
      if (!info) return { outcome: 'already-gone', holders: [] };
      if (!isManagedBy(info.labels, input)) refuseUnmanaged(input.imageId, info, input);
      const attribute = (now: ImageInfo) => attributeReferences(now, input.references);
      const attribution = attribute(info);
      let result: ReleaseResult;
      if (attribution.foreign.length > 0) {
        result = await keepImage(docker, info, attribution, true);
      } else {
        const users = await containersUsing(docker, info.id);
        if (users.length > 0)
          return capHolders<RemoveSnapshotImageResult>({ outcome: 'in-use', holders: users });
        // Measured with the parents it takes along: their layers are freed by this removal too.
        const { result: released, freed } = await meter.measure(
          async () => {
            const r = await releaseImage(docker, info, attribution, attribute);
            if (r.outcome === 'removed') await removeRetiredParents(docker, info, log);
            return r;
          },
          (r) => (r.outcome === 'removed' ? info : undefined),
        );
        if (released.outcome === 'removed')
          return removedWith<RemoveSnapshotImageResult>({ outcome: 'removed', holders: [] }, info.id, freed);
        result = released;
      }
      if (result.outcome === 'kept') {
        log.info(
          { imageId: info.id, keptBy: result.holders },
          'snapshot image kept by references snapkeeper does not own',
        );
      }
      return capHolders(result);
    },
  };
  // Heartbeating while they run: the cleanup profile gives them a heartbeat timeout, so an attempt
  // whose worker died, or that never reached a worker's code, is retried in seconds rather than
  // after its 2-minute start-to-close timeout.
  return heartbeating({
    ...activities,
    /**
     * The common case of cleanup in one hop: an image only snapkeeper names goes with the untag of
     * its last reference (retireAtOnce); any other goes through invalidate, then remove, each the
     * idempotent step it is on its own, so a retry of this activity (or the step-wise activities
     * after it) repeats nothing harmful. A blocked step ends the activity with its answer instead
     * of waiting here: the workflow shows the block and owns the backoff.
     */
    async retireSnapshotImage(input: InvalidateSnapshotInput): Promise<RetireSnapshotImageResult> {
      const { result: atOnce, freed } = await meter.measure(
        async () => {
          const removed = await retireAtOnce(docker, input);
          if (removed) await removeRetiredParents(docker, removed, log);
          return removed;
        },
        (removed) => removed,
      );
      if (atOnce) {
        const result = removedWith<RemoveSnapshotImageResult>(
          { outcome: 'removed', holders: [] },
          atOnce.id,
          freed,
        );
        return { step: 'remove', result };
      }
      const invalidated = await activities.invalidateSnapshot(input);
      if (typeof invalidated !== 'string') return { step: 'invalidate', blocked: invalidated };
      const { projectId, workItemId, imageId, references } = input;
      const removal = { projectId, workItemId, imageId, ...(references ? { references } : {}) };
      return { step: 'remove', result: await activities.removeSnapshotImage(removal) };
    },
  });
}

/**
 * The holders an answer names (containers, child images, foreign references) are kept to their
 * first TAGS_PER_IMAGE_LIMIT: an activity's result, and the snapshot state the workflow makes of it
 * (keptBy, its message, its result), is a payload Temporal refuses over 2 MiB, and an image may be
 * named by any number of tags or used by any number of containers.
 */
function capHolders<T extends { holders: string[] }>(answer: T): T {
  if (answer.holders.length <= TAGS_PER_IMAGE_LIMIT) return answer;
  return { ...answer, holders: answer.holders.slice(0, TAGS_PER_IMAGE_LIMIT) };
}

/**
 * The usual retirement in the fewest engine calls: an image that only its reuse tag (and perhaps
 * snapkeeper's held tag) names, untagged with that tag last, so the engine deletes it with its last
 * reference, never by id. The same checks as the step-wise path decide that it may go (the tag
 * still names this id, the image carries this work item's managed labels, no reference belongs to
 * anyone else); anything else (another reference, a 409 from a container or a reference added
 * meanwhile, an image that stays) returns undefined, and the step-wise activities, each idempotent,
 * take it from whatever state this left. Answers the removed image, or undefined.
 */
async function retireAtOnce(
  docker: DockerPort,
  input: InvalidateSnapshotInput,
): Promise<ImageInfo | undefined> {
  const kind = referenceKind(input.image);
  if (kind === 'id' || kind === 'digest' || input.image === input.imageId) return undefined;
  const tag = canonicalTag(input.image);
  const info = await docker.inspectImage(tag);
  if (!info || info.id !== input.imageId || !info.repoTags.includes(tag)) return undefined;
  if (!isManagedBy(info.labels, input)) refuseUnmanaged(input.image, info, input);
  const held = heldTag(info.id);
  const onlyOurs =
    info.repoDigests.length === 0 &&
    info.repoTags.every((t) => t === tag || t === held) &&
    attributeReferences(info, input.references).foreign.length === 0;
  if (!onlyOurs) return undefined;
  try {
    for (const ref of info.repoTags.includes(held) ? [tag, held] : [tag]) {
      if ((await docker.removeImage(ref, { noprune: true })) === 'not-found') return undefined;
    }
  } catch (err) {
    if (err instanceof DockerError && err.statusCode === 409) return undefined;
    throw err;
  }
  return (await docker.inspectImage(info.id)) ? undefined : info;
}

/**
 * The engine's own pruning would also delete untagged parents that are not snapshots, so removal
 * runs with noprune and walks up itself. A parent goes only when it is a managed snapshot image
 * (of any work item) that no reference names: every current snapshot carries at least the held
 * tag, so an untagged one is a retired snapshot that only its children kept. Nor may a container
 * or another child use it, and an image built from a snapshot is never a snapshot itself.
 */
async function removeRetiredParents(docker: DockerPort, removed: ImageInfo, log: Logger): Promise<void> {
  let parentId = removed.parentId;
  for (let depth = 0; parentId && depth < 130; depth++) {
    const parent = await docker.inspectImage(parentId);
    if (!parent || parent.labels[LABEL_MANAGED] !== 'true') return;
    if (parent.repoTags.length + parent.repoDigests.length > 0) return;
    if (attributeReferences(parent).derived) return;
    if ((await containersUsing(docker, parent.id)).length > 0) return;
    if ((await childrenOf(docker, parent.id)).length > 0) return;
    // Fenced as the reconciler fences an orphan, not through the held tag: a registration of this
    // parent (a rollback by id) during the list calls above adds exactly the held tag, and an untag
    // of the held tag here would then delete the image it just acknowledged. From the fence on, a
    // registration refuses the parent; one that came before it shows in the look below.
    const fence = reapingTag(parent.id);
    await docker.tagImage(parent.id, REAPING_REPOSITORY, imageIdTag(parent.id));
    const fenced = await docker.inspectImage(parent.id);
    if (!fenced) return;
    if (fenced.repoDigests.length > 0 || fenced.repoTags.some((t) => t !== fence)) {
      // Named again meanwhile: it stays. The fence is not its last reference, so its untag only untags.
      await docker.removeImage(fence, { noprune: true });
      return;
    }
    // The delete is the untag of the fence: a reference added since the look survives, and the image too.
    try {
      await docker.removeImage(fence, { noprune: true });
    } catch (err) {
      if (err instanceof DockerError && err.statusCode === 409) return;
      throw err;
    }
    if (await docker.inspectImage(parent.id)) return;
    log.info({ imageId: parent.id, child: removed.id }, 'retired parent snapshot removed with its child');
    parentId = parent.parentId;
  }
}

export type DockerActivities = ReturnType<typeof createDockerActivities>;

/**
 * What a registration records as the image's own references. The image list is read only when
 * the single-tag rule would claim a tag (an undeclared commit registered by id with exactly one
 * tag): a parent's only tag is not taken as its own (referencesAtRegistration).
 */
async function registrationReferences(docker: DockerPort, ref: string, info: ImageInfo): Promise<string[]> {
  const loose = referencesAtRegistration(ref, info);
  const strict = referencesAtRegistration(ref, info, { hasChildren: true });
  if (strict.length === loose.length) return loose;
  return (await childrenOf(docker, info.id)).length > 0 ? strict : loose;
}
