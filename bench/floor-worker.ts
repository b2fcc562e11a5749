// Starts the raw floors' worker process (timer-worker.ts) against the bench's server and engine.
import type { NodeService } from '../scripts/lib/node-service.js';
import { startNodeService } from '../scripts/lib/node-service.js';
import type { BenchContext } from './bench-context.js';
import { childEnv } from './snapkeeper-stack.js';

export async function startFloorWorker(ctx: BenchContext): Promise<NodeService> {
  const worker = await startNodeService({
    name: 'timer-worker',
    entry: 'bench/timer-worker.ts',
    env: childEnv({
      BENCH_TEMPORAL_ADDRESS: ctx.environment.temporalAddress,
      DOCKER_HOST: ctx.environment.dockerHost,
    }),
    readyMessage: 'timer worker ready',
  });
  try {
    await worker.waitReady(120_000);
  } catch (err) {
    await worker.stop('SIGTERM', 30_000);
    throw err;
  }
  return worker;
}
