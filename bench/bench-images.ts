// Many real snapshot images, quickly: one container runs once and is committed once per work item
// with that work item's managed labels, so each commit is a distinct image (its config differs)
// sharing one small layer, as the snapshots of one job would.
import type Dockerode from 'dockerode';
import { mapLimit } from '../src/service/map-limit.js';
import { managedLabels } from '../src/contract/names.js';

export interface BenchImage {
  projectId: string;
  workItemId: string;
  /** repository:tag, the image's only reference. */
  image: string;
  imageId: string;
}

export async function commitImages(
  docker: Dockerode,
  options: {
    baseImage: string;
    repository: string;
    ids: ReadonlyArray<{ projectId: string; workItemId: string }>;
    concurrency?: number;
    /** Labels of the n-th image besides the managed ones. */
    extraLabels?: (n: number) => Record<string, string>;
    /** false: without the managed labels (images snapkeeper must leave alone). */
    managed?: boolean;
  },
): Promise<BenchImage[]> {
  const container = await docker.createContainer({
    Image: options.baseImage,
    Cmd: ['sh', '-c', 'echo snapshot > /payload'],
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await container.start();
    await container.wait();
    return await mapLimit(options.ids, options.concurrency ?? 4, async (ids, n) => {
      const tag = `${ids.workItemId.replace(/[^a-zA-Z0-9_.-]/g, '-')}-${n}`;
      const labels = {
        ...(options.managed === false ? {} : managedLabels(ids.projectId, ids.workItemId)),
        ...options.extraLabels?.(n),
      };
      const changes = Object.entries(labels).map(
        ([k, v]) => `LABEL ${JSON.stringify(k)}=${JSON.stringify(v)}`,
      );
      const committed = (await container.commit({
        _query: { container: container.id, repo: options.repository, tag, changes },
      })) as { Id?: string };
      if (!committed.Id) throw new Error('docker commit answered without an Id');
      return { ...ids, image: `${options.repository}:${tag}`, imageId: committed.Id };
    });
  } finally {
    await container.remove({ force: true });
  }
}
