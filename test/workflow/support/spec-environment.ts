// One time-skipping Temporal test server per spec file, with the real workflow bundle on a worker
// and scripted activities on the workflow queue and on each host's Docker queue.
import { appendFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { WORKFLOW_TASK_QUEUE, dockerTaskQueue } from '../../../src/contract/names.js';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_TYPES } from '../../../src/contract/search-attributes.js';
import { FakeControl } from './fake-control.js';
import { FakeDockerHosts } from './fake-docker-hosts.js';
import { injectSpecContext } from './provided-context.js';

/** Docker hosts with a worker of scripted activities, unless a file asks for others. */
export const SPEC_HOSTS = ['build-1', 'build-2'];

export interface SpecEnvironment {
  env: TestWorkflowEnvironment;
  client: Client;
  docker: FakeDockerHosts;
  control: FakeControl;
  /** Server time now (skipped time included). */
  now(): Promise<number>;
  teardown(): Promise<void>;
}

// The SDK gives a starting test server 5 s to answer; a JVM on a machine busy with other test
// runs can take longer, so a start that timed out is tried again.
const START_ATTEMPTS = 3;

export interface SpecEnvironmentOptions {
  /**
   * Activities on the workflow queue in place of the scripted ones (given the environment's
   * client), e.g. the real budget admission, which only talks to Temporal.
   */
  controlActivities?: (client: Client) => object;
  hosts?: string[];
}

export async function startSpecEnvironment(options: SpecEnvironmentOptions = {}): Promise<SpecEnvironment> {
  installQuietRuntime();
  const { testServerPath, workflowBundlePath } = injectSpecContext();
  const env = await createTimeSkipping(testServerPath);
  try {
    await addSearchAttributes(env, env.namespace ?? 'default');
    const docker = new FakeDockerHosts();
    const control = new FakeControl();
    const common = { connection: env.nativeConnection, namespace: env.namespace ?? 'default' };
    const workers = [
      await Worker.create({
        ...common,
        taskQueue: WORKFLOW_TASK_QUEUE,
        workflowBundle: { codePath: workflowBundlePath },
        activities: { ...control.activities(), ...options.controlActivities?.(env.client) },
      }),
      ...(await Promise.all(
        (options.hosts ?? SPEC_HOSTS).map((host) =>
          Worker.create({
            ...common,
            taskQueue: dockerTaskQueue(host),
            activities: docker.activitiesFor(host),
          }),
        ),
      )),
    ];
    const running = Promise.all(workers.map((w) => w.run()));
    return {
      env,
      client: env.client,
      docker,
      control,
      now: () => env.currentTimeMs(),
      async teardown() {
        for (const w of workers) w.shutdown();
        try {
          await running;
        } finally {
          await env.teardown();
        }
      },
    };
  } catch (err) {
    await env.teardown();
    throw err;
  }
}

// CommonJS package: under Node's ESM loader its namespaces exist only on the default export.
const { IndexedValueType } = proto.temporal.api.enums.v1;
const INDEXED_TYPE = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
} as const;

/**
 * The workflow upserts snapkeeper's search attributes, which must exist, as on a real server. The
 * test server implements adding them but not listing them (which ensureSearchAttributes needs).
 */
export async function addSearchAttributes(env: TestWorkflowEnvironment, namespace: string): Promise<void> {
  await env.connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      Object.entries(SEARCH_ATTRIBUTE_TYPES).map(([name, type]) => [name, INDEXED_TYPE[type]]),
    ),
  });
}

export async function createTimeSkipping(path: string): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path } },
      });
    } catch (err) {
      if (attempt >= START_ATTEMPTS) throw err;
      process.stderr.write(`[workflow-spec] test server start ${attempt} failed, again: ${String(err)}\n`);
    }
  }
}

let runtimeInstalled = false;

// Workflow and worker logs would bury the test output (the Docker-queue workers warn that they
// poll no workflows, the test server lacks capabilities a real one has); errors still show.
export function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    // SNAPKEEPER_CORE_LOG=path: the SDK Core's debug log, one line per entry, for what a history
    // alone does not show (which jobs each activation held; docs/reliability.md used it).
    const coreLog = process.env.SNAPKEEPER_CORE_LOG;
    if (coreLog) {
      Runtime.install({
        logger: new DefaultLogger('DEBUG', (entry) => {
          appendFileSync(coreLog, `${entry.message} ${JSON.stringify(entry.meta ?? {})}\n`);
        }),
        telemetryOptions: { logging: { filter: { core: 'DEBUG', other: 'ERROR' }, forward: {} } },
      });
      return;
    }
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
    });
  } catch {
    // Already installed in this process by an earlier file: keep that one.
  }
}
