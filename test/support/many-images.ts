import type Dockerode from 'dockerode';
import type { BenchImage } from '../../bench/bench-images.js';
import { commitImages } from '../../bench/bench-images.js';
import { testEnv } from './test-env.js';

/**
 * Many real snapshot images, cheaply (the benchmarks' way): one container runs once, then is
 * committed `count` times with the labels of a different work item each time, from the run's base
 * image.
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
): Promise<BenchImage[]> {
  return commitImages(docker, {
    baseImage: testEnv().baseImage,
    repository: options.repository,
    ids: Array.from({ length: options.count }, (_, n) => options.idsOf(n)),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  });
}
