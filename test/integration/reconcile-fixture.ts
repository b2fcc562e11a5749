// A Docker "host" for the reconciler, budget and termination tests: the real workers (workflow and
// Docker roles, with metrics) for a host id of the test file's own, optionally on a private engine
// of its own (so a reconcile with a short grace can never touch another file's images), optionally
// with its data root on a small tmpfs (so disk pressure is real).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type Dockerode from 'dockerode';
import { ensureBaseImage } from '../../scripts/lib/base-image.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/config.js';
import { createDockerPort, createDockerode } from '../../src/docker/dockerode-adapter.js';
import { createLogger } from '../../src/logging/logger.js';
import type { SnapshotService } from '../../src/service/snapshot-service.js';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import { WORKFLOW_TASK_QUEUE, budgetWorkflowId } from '../../src/contract/names.js';
import { connectClient } from '../../src/temporal/connect-client.js';
import { connectNative } from '../../src/temporal/connect-native.js';
import { createWorkers } from '../../src/worker/create-workers.js';
import type { UpkeepMetrics } from '../../src/activities/upkeep-metrics.js';
import { createWorkerMetrics } from '../../src/worker/worker-metrics.js';
import type { BudgetWorkflowOptions, budgetWorkflow } from '../../src/workflows/budget/workflow.js';
import type { BudgetView } from '../../src/contract/budget-types.js';
import { budgetStateQuery } from '../../src/contract/messages.js';
import type {
  ReconcileReport,
  ReconcileWorkflowInput,
  reconcileWorkflow,
} from '../../src/workflows/reconcile/workflow.js';
import type { DockerEngine } from '../support/docker-engine.js';
import { startDockerEngine } from '../support/docker-engine.js';
import { TEST_WORKFLOW_OPTIONS } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { newDocker, testEnv } from '../support/test-env.js';

const exec = promisify(execFile);

export interface TestHost {
  hostId: string;
  dockerHost: string;
  docker: Dockerode;
  config: Config;
  client: Client;
  service: SnapshotService;
  metrics: UpkeepMetrics;
  /** An unmanaged image on this host's engine that must survive everything. */
  canaryImageId: string;
  baseImageId: string;
  /** The engine's data root (a tmpfs when asked for). */
  dataRoot: string;
  /** Runs reconcileWorkflow for this host now and returns its report. */
  reconcile(input: Omit<ReconcileWorkflowInput, 'hosts'>): Promise<ReconcileReport>;
  budget(): Promise<BudgetView | null>;
  stop(): Promise<void>;
}

export interface StartTestHostOptions {
  /** Short name, part of the host id. */
  name: string;
  /** A private engine for this host alone (default), or the harness's shared engine. */
  privateEngine?: boolean;
  /** Size of a tmpfs to mount as the private engine's data root. */
  tmpfsMb?: number;
  /** Extra configuration (SNAPKEEPER_MAX_SNAPSHOTS and the like). */
  env?: Record<string, string>;
  budgetWorkflowOptions?: BudgetWorkflowOptions;
  /** Another host id on the engine of this test host (a misconfiguration the reconciler survives). */
  engineOf?: TestHost;
}

export async function startTestHost(options: StartTestHostOptions): Promise<TestHost> {
  const env = testEnv();
  const hostId = `${options.name}-${randomBytes(4).toString('hex')}`;
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanUp = async () => {
    const errors: unknown[] = [];
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `clean-up of test host ${hostId} failed`);
  };

  try {
    let dockerHost = env.dockerHost;
    let baseImageId = env.baseImageId;
    let canaryImageId = env.canaryImageId;
    if (options.engineOf) {
      ({ dockerHost, baseImageId, canaryImageId } = options.engineOf);
    } else if (options.privateEngine ?? true) {
      const dir = join(env.workDir, hostId);
      await mkdir(join(dir, 'data'), { recursive: true });
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      if (options.tmpfsMb) {
        await exec('mount', ['-t', 'tmpfs', '-o', `size=${options.tmpfsMb}m`, 'tmpfs', join(dir, 'data')]);
        cleanups.push(() => unmount(join(dir, 'data')));
      }
      const engine: DockerEngine = await startDockerEngine(dir);
      cleanups.push(() => engine.stop());
      dockerHost = engine.dockerHost;
      baseImageId = await ensureBaseImage(dockerHost, env.baseImage);
      canaryImageId = (
        await makeSnapshotImage(newDocker(dockerHost), {
          projectId: 'canary',
          workItemId: 'canary',
          labels: 'none',
          fromImage: env.baseImage,
          tag: env.canaryImage,
        })
      ).imageId;
    }
    const docker = newDocker(dockerHost);

    const config = loadConfig({
      TEMPORAL_ADDRESS: env.temporalAddress,
      DOCKER_HOST: dockerHost,
      SNAPKEEPER_HOST_ID: hostId,
      SNAPKEEPER_LOG_LEVEL: process.env.SNAPKEEPER_TEST_LOG_LEVEL ?? 'warn',
      ...options.env,
    });
    const log = createLogger({ level: config.logLevel, name: `test-${hostId}` });
    const metrics = createWorkerMetrics();
    const nativeConnection = await connectNative(config);
    cleanups.push(() => nativeConnection.close());
    const workers = await createWorkers({
      config,
      connection: nativeConnection,
      docker: createDockerPort(createDockerode(dockerHost)),
      log,
      metrics,
      // The run's one workflow bundle (the global setup's).
      workflowBundle: { codePath: env.workflowBundlePath },
      ...(options.budgetWorkflowOptions ? { budgetWorkflowOptions: options.budgetWorkflowOptions } : {}),
    });
    const running = Promise.all(workers.map((w) => w.run()));
    cleanups.push(async () => {
      for (const w of workers) w.shutdown();
      await running;
    });
    const { connection, client } = await connectClient(config);
    cleanups.push(() => connection.close());
    const service = createSnapshotService({
      client,
      defaultTtlSeconds: 3600,
      lookupRecordIntervalMs: config.lookupRecordIntervalMs,
      workflowOptions: TEST_WORKFLOW_OPTIONS,
    });
    const dataRoot = ((await docker.info()) as { DockerRootDir: string }).DockerRootDir;
    if (options.budgetWorkflowOptions) {
      // Any worker on the shared queue may run the admission that starts the budget, with its own
      // options; start it here so these options are the ones it runs with.
      await client.workflow.start<typeof budgetWorkflow>('budgetWorkflow', {
        workflowId: budgetWorkflowId(hostId),
        taskQueue: WORKFLOW_TASK_QUEUE,
        args: [{ hostId, options: options.budgetWorkflowOptions }],
      });
    }

    return {
      hostId,
      dockerHost,
      docker,
      config,
      client,
      service,
      metrics,
      canaryImageId,
      baseImageId,
      dataRoot,
      async reconcile(input) {
        const result = await client.workflow.execute<typeof reconcileWorkflow>('reconcileWorkflow', {
          workflowId: `test-reconcile-${hostId}-${randomBytes(4).toString('hex')}`,
          taskQueue: WORKFLOW_TASK_QUEUE,
          args: [{ ...input, hosts: [hostId] }],
          workflowExecutionTimeout: '5 minutes',
        });
        const report = result.reports[0];
        if (!report) throw new Error('reconcile returned no report');
        return report;
      },
      async budget() {
        try {
          return await client.workflow.getHandle(budgetWorkflowId(hostId)).query(budgetStateQuery);
        } catch {
          return null;
        }
      },
      async stop() {
        let survivors: Error | undefined;
        try {
          const gone: string[] = [];
          for (const [what, id] of [
            ['base image', baseImageId],
            ['canary image', canaryImageId],
          ] as const) {
            if (!(await imageExists(docker, id))) gone.push(`${what} ${id}`);
          }
          if (gone.length > 0) survivors = new Error(`unmanaged images were removed: ${gone.join(', ')}`);
          // The budget entity runs forever; it must not outlive the file that made it.
          await client.workflow
            .getHandle(budgetWorkflowId(hostId))
            .terminate('test host stopped')
            .catch(() => undefined);
        } finally {
          await cleanUp();
        }
        if (survivors) throw survivors;
      },
    };
  } catch (err) {
    await cleanUp().catch(() => undefined);
    throw err;
  }
}

async function unmount(dir: string): Promise<void> {
  // The engine has stopped (cleanups run in reverse), so nothing should hold the mount; a lazy
  // unmount still frees it if a straggler does.
  try {
    await exec('umount', [dir]);
  } catch {
    await exec('umount', ['-l', dir]);
  }
}

/** Seconds since the engine made the image (its Created time), on this machine's clock. */
export async function imageAgeSeconds(docker: Dockerode, imageId: string): Promise<number> {
  const info = await docker.getImage(imageId).inspect();
  return (Date.now() - Date.parse(info.Created)) / 1000;
}
