import { mapLimit } from '../src/service/map-limit.js';
import { waitFor } from '../test/support/wait-for.js';
import type { BenchContext } from './bench-context.js';
import type { BenchImage } from './bench-images.js';

/**
 * Registers each image through the API, linked to its own pull request (number = index + 1), and
 * waits until visibility lists every link: a merge finds its snapshots there, and a figure taken
 * before visibility caught up would measure the lag of the set-up instead.
 */
export async function registerLinked(
  ctx: BenchContext,
  images: readonly BenchImage[],
  repository: string,
  options: { concurrency?: number; ttlSeconds?: number } = {},
): Promise<void> {
  await mapLimit(images, options.concurrency ?? 8, async (img, i) => {
    await ctx.stack.api.register({
      projectId: img.projectId,
      workItemId: img.workItemId,
      image: img.image,
      host: ctx.stack.hostId,
      pullRequest: { repository, number: i + 1 },
      ...(options.ttlSeconds ? { ttlSeconds: options.ttlSeconds } : {}),
    });
  });
  await waitFor(
    async () => {
      const count = await ctx.stack.client.workflow.count(
        `SnapshotRepository = '${repository}' AND ExecutionStatus = 'Running'`,
      );
      return count.count >= images.length;
    },
    { timeoutMs: 120_000, intervalMs: 500, message: `visibility never listed ${images.length} links` },
  );
}
