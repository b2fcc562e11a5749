import type { Client } from '@temporalio/client';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/config.js';
import { createDockerPort, createDockerode } from '../../src/docker/dockerode-adapter.js';
import { createLogger } from '../../src/logging/logger.js';
import type { SnapshotService } from '../../src/service/snapshot-service.js';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import { connectClient } from '../../src/temporal/connect-client.js';
import { connectNative } from '../../src/temporal/connect-native.js';
import { createWorkers } from '../../src/worker/create-workers.js';
import type { SnapshotWorkflowOptions } from '../../src/workflows/snapshot/workflow.js';
import { testEnv } from './test-env.js';

export interface InProcessWorker {
  config: Config;
  client: Client;
  service: SnapshotService;
  stop(): Promise<void>;
}

/** Short backoffs so blocked removals settle within a test's deadline. */
export const TEST_WORKFLOW_OPTIONS: SnapshotWorkflowOptions = {
  removalBackoffInitialSeconds: 1,
  removalBackoffMaxSeconds: 2,
};

/**
 * The real workers (workflow + Docker roles) in this test process, on the shared dev server and
 * private engine. Each test file passes its own hostId so Docker queues never mix across files.
 */
export async function startInProcessWorker(options: {
  hostId: string;
  env?: Record<string, string>;
  workflowOptions?: SnapshotWorkflowOptions;
}): Promise<InProcessWorker> {
  const env = testEnv();
  const config = loadConfig({
    TEMPORAL_ADDRESS: env.temporalAddress,
    DOCKER_HOST: env.dockerHost,
    SNAPKEEPER_HOST_ID: options.hostId,
    SNAPKEEPER_LOG_LEVEL: 'warn',
    ...options.env,
  });
  const log = createLogger({ level: config.logLevel, name: `test-worker-${options.hostId}` });
  const nativeConnection = await connectNative(config);
  const docker = createDockerPort(createDockerode(config.docker.host));
  // The run's one bundle (global setup), not webpack at every start.
  const workflowBundle = { codePath: env.workflowBundlePath };
  const workers = await createWorkers({ config, connection: nativeConnection, docker, log, workflowBundle });
  const running = Promise.all(workers.map((w) => w.run()));
  const { connection, client } = await connectClient(config);
  const service = createSnapshotService({
    client,
    defaultTtlSeconds: 3600,
    lookupRecordIntervalMs: config.lookupRecordIntervalMs,
    workflowOptions: options.workflowOptions ?? TEST_WORKFLOW_OPTIONS,
  });
  return {
    config,
    client,
    service,
    async stop() {
      for (const w of workers) w.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}
