// B5's Docker worker for the host "bench-scale", in its own process: snapkeeper's workers as
// createWorkers builds them, with SyntheticDocker instead of a real engine (see that class).
import v8 from 'node:v8';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logging/logger.js';
import { connectNative } from '../src/temporal/connect-native.js';
import { createWorkers } from '../src/worker/create-workers.js';
import { serveWorkers } from './serve-workers.js';
import { SyntheticDocker } from './synthetic-docker.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, name: 'bench-scale-worker' });
  const connection = await connectNative(config);
  const workers = await createWorkers({ config, connection, docker: new SyntheticDocker(), log });
  await serveWorkers(connection, workers, {
    msg: 'bench scale worker ready',
    taskQueues: workers.map((w) => w.options.taskQueue),
    maxCachedWorkflows: workers.map((w) => w.options.maxCachedWorkflows),
    heapSizeLimitMiB: Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20),
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
