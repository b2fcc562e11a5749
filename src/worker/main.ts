import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config/config.js';
import { createDockerPort, createDockerode } from '../docker/dockerode-adapter.js';
import { createLogger } from '../logging/logger.js';
import { WORKFLOW_TASK_QUEUE, dockerTaskQueue } from '../shared/names.js';
import { createWorkers } from './create-workers.js';
import { ensureSearchAttributes } from './ensure-search-attributes.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, name: 'snapkeeper-worker' });
  const { address, namespace } = config.temporal;

  const client = await Connection.connect({ address });
  const added = await ensureSearchAttributes(client, namespace);
  if (added.length > 0) log.info({ added }, 'search attributes registered');
  await client.close();

  const docker = createDockerPort(createDockerode(config.docker.host));
  const connection = await NativeConnection.connect({ address });
  const workers = await createWorkers({ config, connection, docker, log });

  const stop = (signal: string) => {
    log.info({ signal }, 'worker shutting down');
    for (const w of workers) w.shutdown();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));

  const running = Promise.all(workers.map((w) => w.run()));
  log.info(
    {
      temporal: address,
      namespace,
      hostId: config.hostId,
      taskQueues: [
        ...(config.workerRoles.includes('workflow') ? [WORKFLOW_TASK_QUEUE] : []),
        ...(config.workerRoles.includes('docker') ? [dockerTaskQueue(config.hostId)] : []),
      ],
    },
    'worker ready',
  );
  await running;
  await connection.close();
  log.info('worker stopped');
}

main().catch((err: unknown) => {
  // A readable message for bad configuration; the stack only for the unexpected.
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`snapkeeper worker failed: ${message}\n`);
  process.exit(1);
});
