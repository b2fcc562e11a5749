import { Client } from '@temporalio/client';
import { loadConfig } from '../config/config.js';
import { createDockerPort, createDockerode } from '../docker/dockerode-adapter.js';
import { createLogger } from '../logging/logger.js';
import { connectClient } from '../temporal/connect-client.js';
import { connectNative } from '../temporal/connect-native.js';
import { describeTemporalConnection } from '../temporal/connection-options.js';
import { WORKFLOW_TASK_QUEUE, dockerTaskQueue, reconcileScheduleId } from '../contract/names.js';
import { createWorkers } from './create-workers.js';
import { ensureSearchAttributes } from '../service/ensure-search-attributes.js';
import { ensureBudgetWorkflow } from './ensure-budget-workflow.js';
import { ensureReconcileSchedule } from './ensure-reconcile-schedule.js';
import { createWorkerMetrics, startMetricsServer } from './worker-metrics.js';
import { recordContainerUses } from './container-use-recorder.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, name: 'snapkeeper-worker' });
  const { namespace } = config.temporal;

  const { connection: client } = await connectClient(config);
  const added = await ensureSearchAttributes(client, namespace);
  if (added.length > 0) log.info({ added }, 'search attributes registered');
  if (config.workerRoles.includes('docker')) {
    // Each Docker worker keeps the reconcile schedule of its own host, so no central process needs
    // to know every host; a worker started with other settings updates its schedule.
    const outcome = await ensureReconcileSchedule(new Client({ connection: client, namespace }), {
      hostId: config.hostId,
      intervalMs: config.reconcile.intervalMs,
      orphanGraceSeconds: Math.round(config.reconcile.orphanGraceMs / 1000),
    });
    log.info({ scheduleId: reconcileScheduleId(config.hostId), outcome }, 'reconcile schedule ensured');
  }
  await client.close();

  const metrics = createWorkerMetrics({ defaultMetrics: true });
  // Metrics must not keep snapshots from being cleaned up: a port in use is an error, not a stop.
  const metricsServer =
    config.workerMetrics.port > 0
      ? await startMetricsServer(metrics, {
          port: config.workerMetrics.port,
          host: config.workerMetrics.host,
        }).catch((err: unknown) => {
          log.error(
            { port: config.workerMetrics.port, error: (err as Error).message },
            'worker metrics endpoint could not start (SNAPKEEPER_WORKER_METRICS_PORT); running without it',
          );
          return undefined;
        })
      : undefined;
  if (metricsServer) log.info({ port: metricsServer.port }, 'worker metrics on /metrics');

  const dockerode = createDockerode(config.docker.host);
  const docker = createDockerPort(dockerode);
  const connection = await connectNative(config);
  const workers = await createWorkers({ config, connection, docker, log, metrics });
  // A container started from a snapshot image is a use of it, lookup or not (issue 21): recorded
  // at most once per image and lookup recording interval.
  const uses = config.workerRoles.includes('docker')
    ? recordContainerUses({
        dockerode,
        docker,
        client: new Client({ connection, namespace }),
        log: log.child({ hostId: config.hostId }),
        hostId: config.hostId,
        intervalMs: config.lookupRecordIntervalMs,
        metrics,
      })
    : undefined;

  const stop = (signal: string) => {
    log.info({ signal }, 'worker shutting down');
    for (const w of workers) w.shutdown();
    void uses?.stop();
    void metricsServer?.close();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));

  const running = Promise.all(workers.map((w) => w.run()));
  log.info(
    {
      temporal: describeTemporalConnection(config.temporal),
      hostId: config.hostId,
      taskQueues: [
        ...(config.workerRoles.includes('workflow') ? [WORKFLOW_TASK_QUEUE] : []),
        ...(config.workerRoles.includes('docker') ? [dockerTaskQueue(config.hostId)] : []),
      ],
    },
    'worker ready',
  );
  if (config.workerRoles.includes('docker')) {
    // Best effort, in the background: it needs a workflow worker, which may be another process.
    ensureBudgetWorkflow(new Client({ connection, namespace }), config.hostId, log).catch((err: unknown) =>
      log.warn({ error: (err as Error).message }, 'budget check at start-up failed; the reconciler retries'),
    );
  }
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
