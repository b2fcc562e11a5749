// The system under test of the simulation: a Temporal dev server of its own (the Go server the
// integration tests and production behave like), a workflow worker with the real workflow bundle
// (restartable: the new worker's cache is empty, so the next task of every open workflow replays its
// history), and per host a Docker worker with the real Docker activities over the simulated
// engines. The merge-record check and the budget admission are the scripted control activities of
// the spec (fake-control.ts). Also: every run's history, replayed against the bundle.
//
// Why the dev server and not the time-skipping test server: on the Java test server time skips only
// while nothing is outstanding anywhere, so time passing among busy lanes crawled at wall-clock speed;
// it sent a cached workflow's tasks to the sticky queue of a stopped worker with no way back, so
// restarts needed maxCachedWorkflows: 0 (a replay on every task: slow, and an "update accepted before
// memo upsert" nondeterminism that the dev server never showed with the same setting). Here time is
// real and short instead: one model hour is MODEL_HOUR_MS (sim-clock.ts), TTLs are seconds, and a
// lane's "time passing" is a real wait that holds back only that lane.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import type { HistoryAndWorkflowId } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { DevServer } from '../../../scripts/lib/temporal-dev-server.js';
import { startDevServer } from '../../../scripts/lib/temporal-dev-server.js';
import { ensureTemporal } from '../../../scripts/lib/ensure-temporal.js';
import { createDockerActivities } from '../../../src/activities/docker-activities.js';
import { WORKFLOW_TASK_QUEUE, dockerTaskQueue } from '../../../src/contract/names.js';
import { createLogger } from '../../../src/logging/logger.js';
import { FakeControl } from '../support/fake-control.js';
import { injectSpecContext } from '../support/provided-context.js';
import { installQuietRuntime } from '../support/spec-environment.js';
import { FakeEngines } from './fake-engine.js';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

/** One run's history. */
export interface RunHistory extends HistoryAndWorkflowId {
  history: History;
}

/** WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND */
const UNHANDLED_COMMAND = 1;

export const SIM_HOSTS = ['sim-1', 'sim-2'];

/**
 * One partition per task queue (the server's default is 4): with one worker per queue, tasks put
 * into one partition and polled from another were forwarded between them, work for a server that
 * bounds the simulation's speed.
 */
const SIM_SERVER_DYNAMIC_CONFIG = {
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

const NAMESPACE = 'default';

/**
 * After a restart the server sends a cached workflow's next task to the stopped worker's sticky
 * queue until this passes, then to the shared queue (the SDK's default is 10 s).
 */
const STICKY_TIMEOUT = '1 second';

/**
 * The workflow worker keeps no workflow between tasks unless SNAPKEEPER_SIM_CACHE says how many.
 * With a cache, a query task that arrives with events newer than the cached run's last task makes
 * the SDK's Core run their activation at once, and a signal or update that comes with the next
 * task then gets an activation of its own; replaying that history puts both in one activation,
 * message first, and fails with a nondeterminism error (docs/reliability.md, "A query between a
 * timer and an update"; counterexample timer-and-update-split-by-a-query.json). The simulation's
 * steps query after every step, so with a cache it finds that SDK defect again and again under
 * load; without one, every task replays the run's history and the orders agree.
 */
const WORKFLOW_CACHE = Number(process.env.SNAPKEEPER_SIM_CACHE ?? 0);

export class SimSystem {
  private workflowWorker: { worker: Worker; running: Promise<void> } | undefined;
  private readonly dockerWorkers: { worker: Worker; running: Promise<void> }[] = [];
  /** Workflow workers shut down by a restart, still finishing their last poll. */
  private readonly stopping: Promise<void>[] = [];
  private restarting: Promise<void> = Promise.resolve();
  restarts = 0;
  /** Every workflow the simulation drove (diagnostics). */
  readonly workflowIds = new Set<string>();
  readonly engines: FakeEngines;
  readonly control = new FakeControl();

  private constructor(
    private readonly server: DevServer,
    private readonly dir: string,
    private readonly connection: Connection,
    private readonly nativeConnection: NativeConnection,
    readonly client: Client,
    /**
     * For the state query: a query of a closed workflow is refused by the server instead of
     * replayed. A closed workflow holds no current image anyway.
     */
    readonly queries: Client,
    private readonly bundlePath: string,
    latencyMs: number,
  ) {
    this.engines = new FakeEngines(SIM_HOSTS, latencyMs);
  }

  static async start(latencyMs: number): Promise<SimSystem> {
    // Before any worker or replay worker exists, so their sandboxes run without the SDK's deadlock
    // detector (lean-sandbox.cjs: a watchdog thread per call into the sandbox).
    process.env.SNAPKEEPER_LEAN_SANDBOX = '1';
    installQuietRuntime();
    const { workflowBundlePath } = injectSpecContext();
    const { temporalCliPath } = await ensureTemporal();
    // The server's SQLite file in memory where there is a tmpfs: the run needs no durability, and
    // the server is what bounds the simulation's speed.
    const dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'snapkeeper-sim-'));
    const server = await startDevServer({
      cliPath: temporalCliPath,
      dbFile: join(dir, 'temporal.db'),
      headless: true,
      dynamicConfig: SIM_SERVER_DYNAMIC_CONFIG,
    });
    let system: SimSystem | undefined;
    try {
      const connection = await Connection.connect({ address: server.address });
      const nativeConnection = await NativeConnection.connect({ address: server.address });
      const client = new Client({ connection, namespace: NAMESPACE });
      const queries = new Client({
        connection,
        namespace: NAMESPACE,
        workflow: { queryRejectCondition: 'NOT_OPEN' },
      });
      system = new SimSystem(
        server,
        dir,
        connection,
        nativeConnection,
        client,
        queries,
        workflowBundlePath,
        latencyMs,
      );
      const log = createLogger({ level: 'silent', name: 'simulation' });
      for (const host of SIM_HOSTS) {
        const worker = await Worker.create({
          connection: nativeConnection,
          namespace: NAMESPACE,
          taskQueue: dockerTaskQueue(host),
          activities: createDockerActivities({ docker: system.engines.port(host), log }),
        });
        system.dockerWorkers.push({ worker, running: worker.run() });
      }
      await system.startWorkflowWorker();
      return system;
    } catch (err) {
      if (system) await system.teardown();
      else {
        await server.stop();
        await rm(dir, { recursive: true, force: true });
      }
      throw err;
    }
  }

  private async startWorkflowWorker(): Promise<void> {
    // Its own connection: one process may run two workers of one queue only on two connections,
    // and a restart starts the new worker before the old one has stopped.
    const connection = await NativeConnection.connect({ address: this.server.address });
    const worker = await Worker.create({
      connection,
      namespace: NAMESPACE,
      taskQueue: WORKFLOW_TASK_QUEUE,
      workflowBundle: { codePath: this.bundlePath },
      activities: this.control.activities(),
      stickyQueueScheduleToStartTimeout: STICKY_TIMEOUT,
      maxCachedWorkflows: WORKFLOW_CACHE,
    });
    this.workflowWorker = { worker, running: worker.run().finally(() => connection.close()) };
  }

  /**
   * Stops the workflow worker and starts a new one: with a cache (SNAPKEEPER_SIM_CACHE), the cache
   * goes with it and the next task of every open workflow replays the whole history first; without
   * one (the default) every task replays anyway, so a restart tests little more than the new
   * worker's start. One restart at a time.
   */
  restartWorkflowWorker(): Promise<void> {
    const next = this.restarting.then(async () => {
      const old = this.workflowWorker;
      // The new worker polls before the old one stops: nothing should wait for the old one's
      // shutdown meanwhile.
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

  /** Time passing: a real wait, of this lane only (the server's clock is the machine's). */
  async sleep(ms: number): Promise<void> {
    await delay(ms);
  }

  now(): number {
    return Date.now();
  }

  /**
   * CPU seconds used so far by the server and by this process (the workers, the client, the
   * checks): where a run's time goes. The server's from /proc (Linux); NaN elsewhere.
   */
  cpuSeconds(): { server: number; test: number } {
    const usage = process.cpuUsage();
    let server = NaN;
    try {
      // utime and stime, fields 14 and 15, in clock ticks (100 a second on Linux).
      const fields = readFileSync(`/proc/${this.server.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      server = (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // Not Linux: the server's share is unknown.
    }
    return { server, test: (usage.user + usage.system) / 1e6 };
  }

  async teardown(): Promise<void> {
    const all = [...this.dockerWorkers, ...(this.workflowWorker ? [this.workflowWorker] : [])];
    for (const w of all) w.worker.shutdown();
    try {
      await Promise.allSettled([...all.map((w) => w.running), ...this.stopping]);
    } finally {
      await this.nativeConnection.close().catch(() => undefined);
      await this.connection.close().catch(() => undefined);
      await this.server.stop();
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  /**
   * Every run of these workflows, found from the runs the simulation saw start by following each
   * continue-as-new forward: the histories to replay.
   */
  async histories(runs: Map<string, Set<string>>): Promise<RunHistory[]> {
    const out: RunHistory[] = [];
    await Promise.all(
      [...runs].map(async ([workflowId, runIds]) => {
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
      }),
    );
    return out;
  }

  /**
   * Replays each history against the same bundle, one replay worker for all of them (loading the
   * bundle is most of a small replay's cost): histories may keep coming (an async iterable) until
   * it ends. Answers one line per failed replay.
   */
  async replay(histories: Iterable<RunHistory> | AsyncIterable<RunHistory>): Promise<string[]> {
    const failures: string[] = [];
    const sent: RunHistory[] = [];
    async function* recorded(): AsyncGenerator<RunHistory> {
      for await (const h of histories) {
        sent.push(h);
        yield h;
      }
    }
    let replayed = 0;
    const results = Worker.runReplayHistories({ workflowBundle: { codePath: this.bundlePath } }, recorded());
    for await (const result of results) {
      // They are replayed one at a time, in order: this result is of the history sent at this index.
      const failed = sent[replayed];
      replayed += 1;
      if (!result.error) continue;
      // The history goes with the report: the server and its database are gone after the run.
      // Binary, as test/fixtures keeps histories (History.decode reads it back).
      const file = join(
        tmpdir(),
        `snapkeeper-sim-history-${result.workflowId.replace(/\W/g, '-')}-${Date.now()}-${replayed}.history.bin`,
      );
      const kept =
        failed &&
        (await writeFile(file, temporal.api.history.v1.History.encode(failed.history).finish()).then(
          () => true,
          () => false,
        ));
      failures.push(
        `replay of ${result.workflowId} run ${result.runId}: ${result.error.message}${kept ? ` (history: ${file})` : ''}`,
      );
    }
    if (replayed !== sent.length) failures.push(`replayed ${replayed} of ${sent.length} histories`);
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
