// The bench worker of the raw floors (B1's and B2's), in its own process like snapkeeper's worker:
// the trivial workflows on one queue (with the raw remove as their local activity) and the raw remove
// on another (like snapkeeper's workflow and Docker roles, which the bench runs in one process too),
// default worker options. Started by startFloorWorker (floor-worker.ts).
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createDockerode } from '../src/docker/dockerode-adapter.js';
import { createRawRemoveActivities } from './raw-remove-activities.js';
import { serveWorkers } from './serve-workers.js';
import { TIMER_DOCKER_TASK_QUEUE, TIMER_TASK_QUEUE } from './workflows/ttl-timer-workflow.js';

async function main(): Promise<void> {
  const address = process.env.BENCH_TEMPORAL_ADDRESS;
  if (!address) throw new Error('BENCH_TEMPORAL_ADDRESS is not set');
  // Without it dockerode would fall back to the machine's default socket: never a real engine.
  const dockerHost = process.env.DOCKER_HOST;
  if (!dockerHost) throw new Error("DOCKER_HOST is not set (the bench engine's socket)");
  const connection = await NativeConnection.connect({ address });
  const activities = createRawRemoveActivities({ docker: createDockerode(dockerHost) });
  const workers = [
    await Worker.create({
      connection,
      namespace: 'default',
      taskQueue: TIMER_TASK_QUEUE,
      workflowsPath: fileURLToPath(new URL('./workflows/floor-workflows.ts', import.meta.url)),
      activities,
    }),
    await Worker.create({
      connection,
      namespace: 'default',
      taskQueue: TIMER_DOCKER_TASK_QUEUE,
      activities,
    }),
  ];
  await serveWorkers(connection, workers, {
    msg: 'timer worker ready',
    taskQueues: [TIMER_TASK_QUEUE, TIMER_DOCKER_TASK_QUEUE],
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
