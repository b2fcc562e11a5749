import type Dockerode from 'dockerode';
import { mapLimit } from '../../src/service/map-limit.js';
import { managedLabels } from '../../src/contract/names.js';
import { testEnv } from './test-env.js';

export interface CommittedImage {
  projectId: string;
  workItemId: string;
  image: string;
  imageId: string;
}

/**
 * Many real snapshot images, cheaply: one container runs once, then is committed `count` times with
 * the labels of a different work item each time. Each commit is a distinct image (its config, and
 * so its id, differs) sharing one small layer, as real snapshots of one job would.
 */
export async function commitManyImages(
  docker: Dockerode,
  options: {
    count: number;
    /** Work item ids of the n-th image. */
    idsOf: (n: number) => { projectId: string; workItemId: string };
    repository: string;
    concurrency?: number;
  },
): Promise<CommittedImage[]> {
  const container = await docker.createContainer({
    Image: testEnv().baseImage,
    Cmd: ['sh', '-c', 'echo snapshot > /payload'],
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await container.start();
    await container.wait();
    return await mapLimit(
      Array.from({ length: options.count }, (_, n) => n),
      options.concurrency ?? 4,
      async (n) => {
        const ids = options.idsOf(n);
        const tag = `n${n}`;
        const changes = Object.entries(managedLabels(ids.projectId, ids.workItemId)).map(
          ([k, v]) => `LABEL ${JSON.stringify(k)}=${JSON.stringify(v)}`,
        );
        const committed = (await container.commit({
          _query: { container: container.id, repo: options.repository, tag, changes },
        })) as { Id?: string };
        if (!committed.Id) throw new Error('docker commit answered without an Id');
        return { ...ids, image: `${options.repository}:${tag}`, imageId: committed.Id };
      },
    );
  } finally {
    await container.remove({ force: true });
  }
}
