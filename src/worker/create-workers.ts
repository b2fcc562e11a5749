import { Client } from '@temporalio/client';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createActivities, createControlActivities } from '../activities/index.js';
import type { Config } from '../config/config.js';
import type { ProjectPolicies } from '../config/project-policy.js';
import { loadProjectPolicies } from '../config/project-policy.js';
import type { DockerPort } from '../docker/docker-port.js';
import type { Logger } from '../logging/logger.js';
import { WORKFLOW_TASK_QUEUE, dockerTaskQueue } from '../contract/names.js';
import type { BudgetWorkflowOptions } from '../contract/budget-workflow-input.js';
import { webpackConfigHook, workflowsPath } from './workflow-bundle-options.js';
import { workflowCodeSource } from './prebuilt-workflow-bundle.js';
import type { UpkeepMetrics } from '../activities/upkeep-metrics.js';

export interface WorkerDeps {
  config: Config;
  connection: NativeConnection;
  docker: DockerPort;
  log: Logger;
  /**
   * A prebuilt bundle (tests share one) instead of bundling the workflows at start-up. Without it,
   * the compiled worker loads the bundle of `npm run build` (workflowCodeSource).
   */
  workflowBundle?: { code: string } | { codePath: string };
  /** Where the Docker worker records reconcile and budget metrics (main.ts serves them). */
  metrics?: UpkeepMetrics;
  /** Per-project policies for the budget; loaded from config.policyFile when absent. */
  policies?: ProjectPolicies;
  /** Options for the budget workflows this process starts (tests shorten history limits). */
  budgetWorkflowOptions?: BudgetWorkflowOptions;
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
  metrics,
  policies,
  budgetWorkflowOptions,
}: WorkerDeps): Promise<Worker[]> {
  const workers: Worker[] = [];
  const namespace = config.temporal.namespace;
  if (config.workerRoles.includes('workflow')) {
    const code = workflowBundle ? { workflowBundle } : workflowCodeOptions(log);
    workers.push(
      await Worker.create({
        connection,
        namespace,
        taskQueue: WORKFLOW_TASK_QUEUE,
        // Bounded by its cache, not by the open snapshot workflows (100,000 wait on timers at once).
        maxCachedWorkflows: config.workflowCache.maxCachedWorkflows,
        stickyQueueScheduleToStartTimeout: config.workflowCache.stickyQueueTimeoutMs,
        ...code,
        // Generic activities (visibility, queries, signals, the budget entity) need a client only.
        activities: createControlActivities({
          client: new Client({ connection, namespace }),
          log,
          ...(budgetWorkflowOptions ? { budgetWorkflowOptions } : {}),
        }),
      }),
    );
  }
  if (config.workerRoles.includes('docker')) {
    workers.push(
      await Worker.create({
        connection,
        namespace,
        taskQueue: dockerTaskQueue(config.hostId),
        activities: createActivities({
          docker,
          log: log.child({ hostId: config.hostId }),
          client: new Client({ connection, namespace }),
          hostId: config.hostId,
          budget: config.budget,
          policies: policies ?? (await loadProjectPolicies(config.policyFile)),
          ...(metrics ? { metrics } : {}),
        }),
      }),
    );
  }
  return workers;
}

function workflowCodeOptions(
  log: Logger,
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'bundlerOptions'> {
  const source = workflowCodeSource();
  if (source.kind === 'prebuilt') {
    log.info({ workflowBundle: source.codePath }, 'workflow code: the bundle built by npm run build');
    return { workflowBundle: { codePath: source.codePath } };
  }
  if (source.reason === 'source')
    log.info({ workflowsPath }, 'workflow code: bundling the sources at start-up');
  else
    // Works, but every start pays for webpack again (up to a minute on a loaded machine).
    log.warn(
      { bundlePath: source.bundlePath, reason: source.reason },
      source.reason === 'no-prebuilt-bundle'
        ? 'workflow code: no prebuilt bundle next to the compiled worker (npm run build makes it); bundling at start-up'
        : 'workflow code: the prebuilt bundle is older than the compiled workflow code (run npm run build); bundling at start-up',
    );
  return { workflowsPath, bundlerOptions: { webpackConfigHook } };
}
