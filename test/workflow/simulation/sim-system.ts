// The system under test of the simulation: Temporal's time-skipping test server, a workflow worker
// with the real workflow bundle (restartable, so a restart makes every open workflow replay its
// history on the next task), and per host a Docker worker with the real Docker activities over the
// simulated engines. The merge-record check and the budget admission are the scripted control
// activities of the spec (fake-control.ts). Also: every run's history, replayed against the bundle.
import { Client } from '@temporalio/client';
import type { HistoryAndWorkflowId } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createDockerActivities } from '../../../src/activities/docker-activities.js';
import { WORKFLOW_TASK_QUEUE, dockerTaskQueue } from '../../../src/contract/names.js';
import { createLogger } from '../../../src/logging/logger.js';
import { FakeControl } from '../support/fake-control.js';
import { injectSpecContext } from '../support/provided-context.js';
import { addSearchAttributes, createTimeSkipping, installQuietRuntime } from '../support/spec-environment.js';
import { FakeEngines } from './fake-engine.js';
import { StepGate } from './step-gate.js';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

/** One run's history. */
export interface RunHistory extends HistoryAndWorkflowId {
  history: History;
}

/** WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND */
const UNHANDLED_COMMAND = 1;

export const SIM_HOSTS = ['sim-1', 'sim-2'];

export class SimSystem {
  private workflowWorker: { worker: Worker; running: Promise<void> } | undefined;
  private readonly dockerWorkers: { worker: Worker; running: Promise<void> }[] = [];
  /** Workflow workers shut down by a restart, still finishing their last poll. */
  private readonly stopping: Promise<void>[] = [];
  private restarting: Promise<void> = Promise.resolve();
  private sleeping: Promise<void> = Promise.resolve();
  restarts = 0;
  /** Every workflow the simulation drove (diagnostics). */
  readonly workflowIds = new Set<string>();
  readonly engines: FakeEngines;
  readonly control = new FakeControl();
  readonly gate = new StepGate();

  private constructor(
    readonly env: TestWorkflowEnvironment,
    private readonly bundlePath: string,
    latencyMs: number,
  ) {
    this.engines = new FakeEngines(SIM_HOSTS, latencyMs);
  }

  get client(): Client {
    return this.env.client;
  }

  /**
   * For the state query: a query of a closed workflow is refused by the server instead of
   * replayed, since the test server's direct query of a closed workflow left time skipping locked
   * (every later sleep ran at wall-clock speed). A closed workflow holds no current image anyway.
   */
  private openQueries: Client | undefined;
  get queries(): Client {
    this.openQueries ??= new Client({
      connection: this.env.connection,
      namespace: this.env.namespace ?? 'default',
      workflow: { queryRejectCondition: 'NOT_OPEN' },
    });
    return this.openQueries;
  }

  static async start(latencyMs: number): Promise<SimSystem> {
    installQuietRuntime();
    const { testServerPath, workflowBundlePath } = injectSpecContext();
    const env = await createTimeSkipping(testServerPath);
    const system = new SimSystem(env, workflowBundlePath, latencyMs);
    try {
      await addSearchAttributes(env, env.namespace ?? 'default');
      const log = createLogger({ level: 'silent', name: 'simulation' });
      for (const host of SIM_HOSTS) {
        const worker = await Worker.create({
          ...system.common(),
          taskQueue: dockerTaskQueue(host),
          activities: createDockerActivities({ docker: system.engines.port(host), log }),
        });
        system.dockerWorkers.push({ worker, running: worker.run() });
      }
      await system.startWorkflowWorker();
      return system;
    } catch (err) {
      await system.teardown();
      throw err;
    }
  }

  private common() {
    return { connection: this.env.nativeConnection, namespace: this.env.namespace ?? 'default' };
  }

  private async startWorkflowWorker(): Promise<void> {
    // Its own connection: one process may run two workers of one queue only on two connections,
    // and a restart starts the new worker before the old one has stopped.
    const connection = await NativeConnection.connect({ address: this.env.address });
    const worker = await Worker.create({
      connection,
      namespace: this.env.namespace ?? 'default',
      taskQueue: WORKFLOW_TASK_QUEUE,
      workflowBundle: { codePath: this.bundlePath },
      activities: this.control.activities(),
      // No cache, so no sticky queue: every workflow task replays the run's history first (a
      // restart before every task). The test server sends a cached workflow's tasks and queries to
      // the sticky queue of a worker that has stopped, with no timeout back to the shared queue.
      maxCachedWorkflows: 0,
    });
    this.workflowWorker = { worker, running: worker.run().finally(() => connection.close()) };
  }

  /**
   * Stops the workflow worker and starts a new one: its cache goes with it, so the next task of
   * every open workflow replays the whole history first. One restart at a time.
   */
  restartWorkflowWorker(): Promise<void> {
    const next = this.restarting.then(async () => {
      const old = this.workflowWorker;
      // The new worker polls before the old one stops: the old one's shutdown waits for its long
      // poll to return (seconds on the test server), and nothing should wait for that meanwhile.
      await this.startWorkflowWorker();
      if (old) {
        old.worker.shutdown();
        this.stopping.push(old.running);
      }
      this.restarts += 1;
    });
    this.restarting = next.catch(() => undefined);
    return next;
  }

  /**
   * Lets server time skip ahead. One at a time: the test server keeps one lock count for time
   * skipping, and two sleeps unlocking it at once left it stuck (time ran at wall-clock speed).
   */
  sleep(ms: number): Promise<void> {
    const next = this.sleeping.then(() => this.env.sleep(ms));
    this.sleeping = next.catch(() => undefined);
    return next;
  }

  async now(): Promise<number> {
    return await this.env.currentTimeMs();
  }

  async teardown(): Promise<void> {
    const all = [...this.dockerWorkers, ...(this.workflowWorker ? [this.workflowWorker] : [])];
    for (const w of all) w.worker.shutdown();
    try {
      await Promise.allSettled([...all.map((w) => w.running), ...this.stopping]);
    } finally {
      await this.env.teardown();
    }
  }

  /**
   * Every run of these workflows, found from the runs the simulation saw start by following each
   * continue-as-new forward: the histories to replay.
   */
  async histories(runs: Map<string, Set<string>>): Promise<RunHistory[]> {
    const out: RunHistory[] = [];
    for (const [workflowId, runIds] of runs) {
      const seen = new Set<string>();
      const todo = [...runIds];
      for (let runId = todo.shift(); runId !== undefined; runId = todo.shift()) {
        if (seen.has(runId)) continue;
        seen.add(runId);
        const history = await this.client.workflow.getHandle(workflowId, runId).fetchHistory();
        out.push({ workflowId, history });
        const last = history.events?.[history.events.length - 1];
        const next = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
        if (next) todo.push(next);
      }
    }
    return out;
  }

  /** Replays each history against the same bundle; answers one line per failed replay. */
  async replay(histories: HistoryAndWorkflowId[]): Promise<string[]> {
    const failures: string[] = [];
    const results = Worker.runReplayHistories({ workflowBundle: { codePath: this.bundlePath } }, histories);
    for await (const result of results) {
      if (result.error)
        failures.push(`replay of ${result.workflowId} run ${result.runId}: ${result.error.message}`);
    }
    return failures;
  }
}

/** Workflow tasks that failed in a history (a nondeterminism or a bug in a handler), one line each. */
export function failedWorkflowTasks(histories: RunHistory[]): string[] {
  const out: string[] = [];
  for (const { workflowId, history } of histories) {
    for (const e of history.events ?? []) {
      const failed = e.workflowTaskFailedEventAttributes;
      // An unhandled command: the server refused a completion because a message arrived meanwhile;
      // the worker runs the next task with it. The protocol's normal way, not a failure.
      if (!failed || Number(failed.cause) === UNHANDLED_COMMAND) continue;
      const why = [failed.failure?.message, failed.failure?.cause?.message, failed.failure?.stackTrace]
        .filter((t) => t)
        .join(' / ');
      out.push(`${workflowId}: workflow task failed (cause ${String(failed.cause)}): ${why || '?'}`);
    }
  }
  return out;
}
