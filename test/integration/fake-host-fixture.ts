// A Docker "host" whose engine is an in-memory fake (test/support/scale-fake-docker.ts), served by
// the real workers in this process on the shared dev server: for tests at the size of a large host
// (20,000 images), which measure what goes through Temporal (payloads, histories), not Docker.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logging/logger.js';
import type { SnapshotService } from '../../src/service/snapshot-service.js';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import { budgetWorkflowId, managedLabels } from '../../src/contract/names.js';
import { createWorkers } from '../../src/worker/create-workers.js';
import { TEST_WORKFLOW_OPTIONS } from '../support/in-process-worker.js';
import { ScaleFakeDocker } from '../support/scale-fake-docker.js';
import { testEnv } from '../support/test-env.js';

export interface FakeHost {
  hostId: string;
  docker: ScaleFakeDocker;
  config: Config;
  client: Client;
  service: SnapshotService;
  stop(): Promise<void>;
}

export async function startFakeHost(options: {
  name: string;
  env?: Record<string, string>;
}): Promise<FakeHost> {
  const env = testEnv();
  const hostId = `${options.name}-${randomBytes(4).toString('hex')}`;
  const docker = new ScaleFakeDocker();
  const config = loadConfig({
    TEMPORAL_ADDRESS: env.temporalAddress,
    DOCKER_HOST: 'unix:///nonexistent/fake-engine.sock',
    SNAPKEEPER_HOST_ID: hostId,
    SNAPKEEPER_LOG_LEVEL: process.env.SNAPKEEPER_TEST_LOG_LEVEL ?? 'error',
    ...options.env,
  });
  const log = createLogger({ level: config.logLevel, name: `test-${hostId}` });
  const nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
  // The run's one workflow bundle (the global setup's).
  const workflowBundle = { codePath: env.workflowBundlePath };
  const workers = await createWorkers({ config, connection: nativeConnection, docker, log, workflowBundle });
  const running = Promise.all(workers.map((w) => w.run()));
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const service = createSnapshotService({
    client,
    defaultTtlSeconds: 3600,
    workflowOptions: TEST_WORKFLOW_OPTIONS,
  });
  return {
    hostId,
    docker,
    config,
    client,
    service,
    async stop() {
      await client.workflow
        .getHandle(budgetWorkflowId(hostId))
        .terminate('test host stopped')
        .catch(() => undefined);
      for (const w of workers) w.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}

export const fakeImageId = (n: number, salt = 0) =>
  `sha256:${(n + salt * 1_000_000).toString(16).padStart(16, '0').repeat(4)}`;

/** A managed image of `projectId`/`workItemId` on the fake engine, made `ageSeconds` ago. */
export function addManagedImage(
  docker: ScaleFakeDocker,
  n: number,
  ids: { projectId: string; workItemId: string },
  ageSeconds: number,
  salt = 0,
): { image: string; imageId: string } {
  const imageId = fakeImageId(n, salt);
  const image = `snapkeeper-scale/${ids.projectId.toLowerCase()}:${ids.workItemId.toLowerCase()}`;
  docker.addImage({
    id: imageId,
    repoTags: [image],
    labels: managedLabels(ids.projectId, ids.workItemId),
    sizeBytes: 10_000_000 + n,
    createdAt: new Date(Date.now() - ageSeconds * 1000).toISOString(),
  });
  return { image, imageId };
}

export interface HistoryStats {
  runs: number;
  /** Events of the longest run. */
  maxEvents: number;
  /** Encoded size of the largest event (its payloads included). */
  maxEventBytes: number;
  /** Encoded size of the longest run's history. */
  maxRunBytes: number;
}

/** Events and sizes of every run of a workflow id (continue-as-new makes several). */
export async function historyStats(client: Client, workflowId: string): Promise<HistoryStats> {
  const stats: HistoryStats = { runs: 0, maxEvents: 0, maxEventBytes: 0, maxRunBytes: 0 };
  for await (const run of client.workflow.list({ query: `WorkflowId='${workflowId}'` })) {
    const history = await client.workflow.getHandle(workflowId, run.runId).fetchHistory();
    const events = history.events ?? [];
    stats.runs++;
    stats.maxEvents = Math.max(stats.maxEvents, events.length);
    let runBytes = 0;
    for (const e of events) {
      const bytes = temporal.api.history.v1.HistoryEvent.encode(e).finish().length;
      runBytes += bytes;
      stats.maxEventBytes = Math.max(stats.maxEventBytes, bytes);
    }
    stats.maxRunBytes = Math.max(stats.maxRunBytes, runBytes);
  }
  return stats;
}
