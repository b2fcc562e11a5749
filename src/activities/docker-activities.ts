import { ApplicationFailure } from '@temporalio/common';
import type { DockerPort, ImageInfo } from '../docker/docker-port.js';
import { DockerError } from '../docker/docker-port.js';
import type { Logger } from '../logging/logger.js';
import { ErrorType } from '../shared/errors.js';
import {
  LABEL_MANAGED,
  LABEL_PROJECT,
  LABEL_WORK_ITEM,
  REAPING_REPOSITORY,
  RETIRING_REPOSITORY,
  imageIdTag,
} from '../shared/names.js';
import type { ImageFacts } from '../shared/types.js';

export interface DockerActivityDeps {
  docker: DockerPort;
  log: Logger;
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
}

export type InvalidateOutcome = 'untagged' | 'already-gone';

export interface RemoveSnapshotImageInput extends ImageOwner {
  imageId: string;
}

export interface RemoveSnapshotImageResult {
  outcome: 'removed' | 'already-gone' | 'in-use' | 'held-by-children';
  /** Containers (ids) that keep the image, when in-use; child images, when held-by-children. */
  holders: string[];
}

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

async function containersUsing(docker: DockerPort, imageId: string): Promise<string[]> {
  return (await docker.listContainers()).filter((c) => c.imageId === imageId).map((c) => c.id);
}

export function createDockerActivities({ docker, log }: DockerActivityDeps) {
  return {
    /** Registration check: the image exists on this host and carries the labels of its work item. */
    async inspectSnapshotImage(input: InspectSnapshotImageInput): Promise<ImageFacts> {
      const info = await docker.inspectImage(input.image);
      if (!info) {
        throw ApplicationFailure.nonRetryable(
          `image ${input.image} does not exist on this host`,
          ErrorType.imageNotFound,
        );
      }
      if (!isManagedBy(info.labels, input)) refuseUnmanaged(input.image, info, input);
      if (info.repoTags.some((t) => t.startsWith(`${REAPING_REPOSITORY}:`))) {
        throw ApplicationFailure.nonRetryable(
          `image ${input.image} (${info.id}) is being removed by the reconciler: it went unregistered ` +
            'for longer than the orphan grace period. Commit a new snapshot and register that.',
          ErrorType.invalidRequest,
        );
      }
      return { imageId: info.id, sizeBytes: info.sizeBytes, labels: info.labels, createdAt: info.createdAt };
    },

    /**
     * Removes the reuse reference so no new container starts from the image. Idempotent: a
     * reference that is gone, or that now names another image (a newer commit under the same tag),
     * is left alone and counts as done.
     */
    async invalidateSnapshot(input: InvalidateSnapshotInput): Promise<InvalidateOutcome> {
      if (input.image === input.imageId) return 'already-gone';
      const info = await docker.inspectImage(input.image);
      if (!info || info.id !== input.imageId) return 'already-gone';
      if (!isManagedBy(info.labels, input)) refuseUnmanaged(input.image, info, input);
      if (info.repoTags.length <= 1) {
        // Untagging the last reference would delete the image here (skipping removeSnapshotImage's
        // checks and parent clean-up), or be a 409 while a container uses it. A holding reference
        // keeps the image for removeSnapshotImage while the reuse reference goes now.
        await tagHolding(docker, info.id);
      }
      const result = await docker.removeImage(input.image, { noprune: true });
      log.info({ image: input.image, imageId: input.imageId, result }, 'reuse reference removed');
      return 'untagged';
    },

    /**
     * Deletes the image by id, never forced. A container using it is reported as in-use so the
     * workflow can show removal-blocked and retry; the workflow, not this activity, owns the backoff.
     */
    async removeSnapshotImage(input: RemoveSnapshotImageInput): Promise<RemoveSnapshotImageResult> {
      const info = await docker.inspectImage(input.imageId);
      if (!info) return { outcome: 'already-gone', holders: [] };
      if (!isManagedBy(info.labels, input)) refuseUnmanaged(input.imageId, info, input);
      const users = await containersUsing(docker, info.id);
      if (users.length > 0) return { outcome: 'in-use', holders: users };
      // Every extra reference makes a delete by id a 409 (referenced in multiple repositories).
      for (const tag of info.repoTags) await docker.removeImage(tag, { noprune: true });
      try {
        // 'not-found' here means untagging the last reference already deleted it: still our removal.
        await docker.removeImage(info.id, { noprune: true });
        log.info({ imageId: info.id }, 'snapshot image removed');
        await removeRetiredParents(docker, info, input, log);
        return { outcome: 'removed', holders: [] };
      } catch (err) {
        if (!(err instanceof DockerError) || err.statusCode !== 409) throw err;
        const nowUsing = await containersUsing(docker, info.id);
        if (nowUsing.length > 0) return { outcome: 'in-use', holders: nowUsing };
        // A snapshot committed from a container of this one shares its layers; the engine prunes
        // this untagged parent when the child goes, and the child has a workflow of its own.
        const children = (await docker.listImages({ all: true })).filter((i) => i.parentId === info.id);
        if (children.length > 0) return { outcome: 'held-by-children', holders: children.map((c) => c.id) };
        throw err;
      }
    },
  };
}

/**
 * The engine's own pruning would also delete untagged parents that are not snapshots, so removal
 * runs with noprune and walks up itself: a parent goes only when it is an untagged snapshot of the
 * same work item (retired earlier as held-by-children) that nothing else uses.
 */
async function removeRetiredParents(
  docker: DockerPort,
  removed: ImageInfo,
  owner: ImageOwner,
  log: Logger,
): Promise<void> {
  let parentId = removed.parentId;
  for (let depth = 0; parentId && depth < 20; depth++) {
    const parent = await docker.inspectImage(parentId);
    if (!parent || parent.repoTags.length > 0 || !isManagedBy(parent.labels, owner)) return;
    if ((await containersUsing(docker, parent.id)).length > 0) return;
    if ((await docker.listImages({ all: true })).some((i) => i.parentId === parent.id)) return;
    await docker.removeImage(parent.id, { noprune: true });
    log.info({ imageId: parent.id, child: removed.id }, 'retired parent snapshot removed with its child');
    parentId = parent.parentId;
  }
}

async function tagHolding(docker: DockerPort, imageId: string): Promise<void> {
  await docker.tagImage(imageId, RETIRING_REPOSITORY, imageIdTag(imageId));
}

export type DockerActivities = ReturnType<typeof createDockerActivities>;
