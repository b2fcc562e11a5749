// Real images for the chaos run: snapshots are `docker commit`s of containers (with the router's
// own commitSnapshot), children are commits of containers started from a snapshot, and holders
// are containers that keep an image in use so its removal blocks.
import type Dockerode from 'dockerode';
import { commitSnapshot } from '@snapkeeper/client';
import { LABEL_MANAGED } from '../../src/contract/names.js';
import { runContainerFrom, statusCodeOf } from '../support/containers.js';

export interface CommittedImage {
  image: string;
  imageId: string;
}

async function runOnce(docker: Dockerode, fromImage: string, script: string): Promise<Dockerode.Container> {
  const container = await docker.createContainer({
    Image: fromImage,
    Cmd: ['sh', '-c', script],
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await container.start();
    const result = (await container.wait()) as { StatusCode?: number };
    if (result.StatusCode !== 0)
      throw new Error(`container from ${fromImage} exited with ${result.StatusCode}`);
    return container;
  } catch (err) {
    await container.remove({ force: true }).catch(() => undefined);
    throw err;
  }
}

/** An image without snapkeeper's labels (a canary that must survive everything). */
export async function commitPlainImage(docker: Dockerode, fromImage: string, ref: string): Promise<string> {
  const container = await runOnce(docker, fromImage, 'echo canary > /canary');
  try {
    const [repo, tag] = ref.split(':') as [string, string];
    const result = (await container.commit({ repo, tag })) as { Id?: string };
    if (!result.Id) throw new Error('docker commit returned no id');
    return result.Id;
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** A job's container from `fromImage` (the base or a previous snapshot), committed as a snapshot. */
export async function commitJobSnapshot(
  docker: Dockerode,
  options: { fromImage: string; projectId: string; workItemId: string; marker: string },
): Promise<CommittedImage> {
  const container = await runOnce(
    docker,
    options.fromImage,
    `dd if=/dev/urandom of=/payload-${options.marker} bs=1024 count=16 2>/dev/null`,
  );
  try {
    return await commitSnapshot(docker, {
      containerId: container.id,
      projectId: options.projectId,
      workItemId: options.workItemId,
    });
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** A long-running container from the image: while it exists, the image cannot be removed. */
export async function startHolder(docker: Dockerode, image: string): Promise<string> {
  return (await runContainerFrom(docker, image)).id;
}

/** The image id a reference names now, or null when the engine has no such image. */
export async function resolveImage(docker: Dockerode, ref: string): Promise<string | null> {
  try {
    const info = (await docker.getImage(ref).inspect()) as { Id: string };
    return info.Id;
  } catch (err) {
    if (statusCodeOf(err) === 404) return null;
    throw err;
  }
}

export interface ManagedImageInfo {
  id: string;
  tags: string[];
  labels: Record<string, string>;
}

export async function listManagedImages(docker: Dockerode): Promise<ManagedImageInfo[]> {
  const images = await docker.listImages({ all: true, filters: { label: [`${LABEL_MANAGED}=true`] } });
  return images.map((i) => ({
    id: i.Id,
    tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
    labels: i.Labels ?? {},
  }));
}

export async function listContainerIds(docker: Dockerode): Promise<string[]> {
  return (await docker.listContainers({ all: true })).map((c) => c.Id);
}
