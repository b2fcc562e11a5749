import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import type { Config } from '../config/config.js';
import type { DockerPort } from '../docker/docker-port.js';
import type { Logger } from '../logging/logger.js';
import { WORKFLOW_TASK_QUEUE, dockerTaskQueue } from '../shared/names.js';
import { webpackConfigHook, workflowsPath } from './workflow-bundle-options.js';

export interface WorkerDeps {
  config: Config;
  connection: NativeConnection;
  docker: DockerPort;
  log: Logger;
  /** A prebuilt bundle (tests share one) instead of bundling the workflows at start-up. */
  workflowBundle?: { code: string } | { codePath: string };
}

/**
 * The workflow worker polls the shared queue and can run anywhere; the Docker worker polls its
 * host's queue and must run beside that host's engine, since its activities hold the socket.
 */
export async function createWorkers({
  config,
  connection,
  docker,
  log,
  workflowBundle,
}: WorkerDeps): Promise<Worker[]> {
  const workers: Worker[] = [];
  const namespace = config.temporal.namespace;
  if (config.workerRoles.includes('workflow')) {
    workers.push(
      await Worker.create({
        connection,
        namespace,
        taskQueue: WORKFLOW_TASK_QUEUE,
        ...(workflowBundle ? { workflowBundle } : { workflowsPath, bundlerOptions: { webpackConfigHook } }),
      }),
    );
  }
  if (config.workerRoles.includes('docker')) {
    workers.push(
      await Worker.create({
        connection,
        namespace,
        taskQueue: dockerTaskQueue(config.hostId),
        activities: createActivities({ docker, log: log.child({ hostId: config.hostId }) }),
      }),
    );
  }
  return workers;
}
