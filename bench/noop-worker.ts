// The bench worker of B3's baseline, in its own process like snapkeeper's worker: it runs only
// benchNoopWorkflow on its own task queue. Started by b3-register-throughput.ts.
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { serveWorkers } from './serve-workers.js';
import { NOOP_TASK_QUEUE } from './workflows/noop-workflow.js';

async function main(): Promise<void> {
  const address = process.env.BENCH_TEMPORAL_ADDRESS;
  if (!address) throw new Error('BENCH_TEMPORAL_ADDRESS is not set');
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: NOOP_TASK_QUEUE,
    workflowsPath: fileURLToPath(new URL('./workflows/noop-workflow.ts', import.meta.url)),
  });
  await serveWorkers(connection, [worker], { msg: 'bench worker ready', taskQueue: NOOP_TASK_QUEUE });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
