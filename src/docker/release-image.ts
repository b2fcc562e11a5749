// Takes snapkeeper's references off an image, and with the last of them the image itself, without
// ever deleting by id: the delete is the untag of snapkeeper's own holding tag, so a reference
// someone adds at the same moment survives, and the image with it.
import type { Attribution } from '../contract/image-references.js';
import { HELD_REPOSITORY, heldTag, imageIdTag, keptTag, KEPT_REPOSITORY } from '../contract/names.js';
import type { DockerPort, ImageInfo } from './docker-port.js';
import { DockerError } from './docker-port.js';

export interface ReleaseResult {
  outcome: 'removed' | 'kept' | 'in-use' | 'held-by-children' | 'blocked';
  /** Containers (in-use), child images (held-by-children) or the references that keep it (kept). */
  holders: string[];
  /** blocked: what the engine answered. */
  reason?: string;
}

export async function containersUsing(docker: DockerPort, imageId: string): Promise<string[]> {
  return (await docker.listContainers()).filter((c) => c.imageId === imageId).map((c) => c.id);
}

export async function childrenOf(docker: DockerPort, imageId: string): Promise<string[]> {
  return (await docker.listImages({ all: true })).filter((i) => i.parentId === imageId).map((i) => i.id);
}

/** The engine refused to remove a reference (409): shown as removal-blocked, retried later. */
export interface RemovalBlock {
  outcome: 'in-use' | 'blocked';
  holders: string[];
  reason?: string;
}

/**
 * What a 409 on removing a reference means: the containers using the image, or else the engine's
 * own words. Any other failure is rethrown.
 */
export async function removalBlock(docker: DockerPort, imageId: string, err: unknown): Promise<RemovalBlock> {
  if (!(err instanceof DockerError) || err.statusCode !== 409) throw err;
  const users = await containersUsing(docker, imageId);
  if (users.length > 0) return { outcome: 'in-use', holders: users };
  return { outcome: 'blocked', holders: [], reason: err.message };
}

/**
 * The image stays: snapkeeper's references go, the others stay, and (when `mark`) a kept tag
 * tells the reconciler the remaining ones are someone else's. The foreign references make every
 * untag here a plain untag.
 */
export async function keepImage(
  docker: DockerPort,
  info: ImageInfo,
  attribution: Attribution,
  mark: boolean,
): Promise<ReleaseResult> {
  const marker = keptTag(info.id);
  if (mark && !info.repoTags.includes(marker))
    await docker.tagImage(info.id, KEPT_REPOSITORY, imageIdTag(info.id));
  for (const ref of attribution.owned) {
    if (ref === marker && mark) continue;
    try {
      await docker.removeImage(ref, { noprune: true });
    } catch (err) {
      return removalBlock(docker, info.id, err);
    }
  }
  return { outcome: 'kept', holders: attribution.foreign };
}

/**
 * Removes every owned reference, the held tag last; that last untag deletes the image unless a
 * container uses it (409), a child image holds its layers (the engine then only untags it), or a
 * reference appeared in the meantime (then `reattribute` decides whether it is kept).
 */
export async function releaseImage(
  docker: DockerPort,
  info: ImageInfo,
  attribution: Attribution,
  reattribute: (now: ImageInfo) => Attribution,
): Promise<ReleaseResult> {
  const held = heldTag(info.id);
  if (!info.repoTags.includes(held)) await docker.tagImage(info.id, HELD_REPOSITORY, imageIdTag(info.id));
  try {
    for (const ref of attribution.owned) {
      if (ref !== held) await docker.removeImage(ref, { noprune: true });
    }
    await docker.removeImage(held, { noprune: true });
  } catch (err) {
    return removalBlock(docker, info.id, err);
  }
  const after = await docker.inspectImage(info.id);
  if (!after) return { outcome: 'removed', holders: [] };
  if (after.repoTags.length + after.repoDigests.length > 0) {
    const again = reattribute(after);
    if (again.foreign.length > 0) return keepImage(docker, after, again, true);
    return { outcome: 'blocked', holders: [], reason: `references ${again.owned.join(', ')} came back` };
  }
  const children = await childrenOf(docker, info.id);
  if (children.length > 0) return { outcome: 'held-by-children', holders: children };
  const users = await containersUsing(docker, info.id);
  if (users.length > 0) return { outcome: 'in-use', holders: users };
  return { outcome: 'blocked', holders: [], reason: 'the engine kept the image after its last reference' };
}
