// The real system a chaos run drives: one Temporal server (the dev server on a SQLite file, or the
// production-shaped server on PostgreSQL), a private Docker engine per host, a Docker worker per
// host, workflow workers, and the API, each its own process.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import Dockerode from 'dockerode';
import { ensureBaseImage } from '../../scripts/lib/base-image.js';
import type { DockerEngine } from '../../scripts/lib/docker-engine.js';
import { startDockerEngine } from '../../scripts/lib/docker-engine.js';
import { findFreePort } from '../../scripts/lib/free-port.js';
import type { TemporalKind } from '../support/provided-context.js';
import type { TestTemporal } from '../support/test-temporal.js';
import { startTestTemporal } from '../support/test-temporal.js';
import type { ServiceSlot } from './service-slot.js';
import { createServiceSlot } from './service-slot.js';
import { commitPlainImage } from './chaos-images.js';

export const BASE_IMAGE = 'snapkeeper-chaos/base:latest';
export const CANARY_IMAGE = 'snapkeeper-chaos/canary:latest';
export const MERGE_REPOSITORY = 'chaos-org/app';
export const MERGE_PROJECT = 'chaos-merge';
export const BUDGET_PROJECT = 'chaos-budget';
export const BUDGET_MAX_SNAPSHOTS = 2;
/** Short, so terminated workflows' images are reaped within the run. */
export const ORPHAN_GRACE_SECONDS = 30;
export const RECONCILE_INTERVAL_SECONDS = 20;

export interface ChaosHost {
  readonly id: string;
  readonly engine: DockerEngine;
  docker: Dockerode;
  readonly baseImageId: string;
  readonly canaryImageId: string;
  /** Stops the engine (its containers die) and starts it again on the same data root. */
  restart(): Promise<void>;
}

export interface ChaosSystem {
  readonly hosts: ChaosHost[];
  readonly server: TestTemporal;
  readonly apiUrl: string;
  readonly token: string;
  readonly secret: string;
  readonly workers: ServiceSlot[];
  readonly api: ServiceSlot;
  /** A client for cancel, terminate, queries and the audit; it reconnects across server restarts. */
  readonly client: Client;
  stop(): Promise<void>;
}

export interface StartChaosSystemOptions {
  workDir: string;
  temporalCliPath: string;
  /** `dev`: the CLI's dev server on a SQLite file; `cluster`: the server on PostgreSQL. */
  temporal: TemporalKind;
  hostCount: number;
  workflowWorkers: number;
  /** Where `tsc` put the compiled project (its `src/worker/main.js`, `src/api/main.js`). */
  distDir: string;
  log: (line: string) => void;
}

export async function startChaosSystem(options: StartChaosSystemOptions): Promise<ChaosSystem> {
  const { workDir, log } = options;
  const stack: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const step of stack.reverse()) await step().catch((err: unknown) => log(`stop: ${String(err)}`));
  };
  try {
    const hosts: ChaosHost[] = [];
    const engines = await Promise.all(
      Array.from({ length: options.hostCount }, (_, i) => startDockerEngine(join(workDir, `engine-${i}`))),
    );
    // The engines running now: a restart replaces one, and stopping the replaced one does nothing.
    const running = [...engines];
    stack.push(async () => {
      await Promise.all(running.map((e) => e.stop()));
    });
    for (const [i, engine] of engines.entries()) {
      const docker = new Dockerode({ socketPath: engine.socketPath });
      const baseImageId = await ensureBaseImage(engine.dockerHost, BASE_IMAGE);
      const canaryImageId = await commitPlainImage(docker, BASE_IMAGE, CANARY_IMAGE);
      const host: ChaosHost = {
        id: `chaos-${String.fromCharCode(97 + i)}`,
        engine,
        docker,
        baseImageId,
        canaryImageId,
        async restart() {
          // docker-engine.sh start after stop: same directory, same socket, same data root.
          await (running[i] ?? engine).stop();
          const again = await startDockerEngine(engine.dir);
          running[i] = again;
          if (again.socketPath !== engine.socketPath) throw new Error('engine came back on another socket');
          host.docker = new Dockerode({ socketPath: again.socketPath });
        },
      };
      hosts.push(host);
    }

    const server = await startTestTemporal({
      kind: options.temporal,
      dir: join(workDir, 'temporal'),
      temporalCliPath: options.temporalCliPath,
    });
    stack.push(() => server.stop());

    const policyFile = join(workDir, 'policy.yaml');
    await writeFile(
      policyFile,
      [
        'projects:',
        `  ${MERGE_PROJECT}:`,
        '    branchRules:',
        `      - repository: ${MERGE_REPOSITORY}`,
        `        pattern: '^chaos/(?<workItemId>[A-Za-z0-9._-]+)$'`,
        `  ${BUDGET_PROJECT}:`,
        `    maxSnapshots: ${BUDGET_MAX_SNAPSHOTS}`,
        '',
      ].join('\n'),
    );
    const token = `chaos-token-${process.pid}`;
    const secret = `chaos-secret-${process.pid}`;
    const common = {
      TEMPORAL_ADDRESS: server.address,
      SNAPKEEPER_CONFIG: policyFile,
      SNAPKEEPER_LOG_LEVEL: 'info',
      SNAPKEEPER_WORKER_METRICS_PORT: '0',
      SNAPKEEPER_RECONCILE_INTERVAL: `${RECONCILE_INTERVAL_SECONDS}s`,
      SNAPKEEPER_ORPHAN_GRACE: `${ORPHAN_GRACE_SECONDS}s`,
    };
    const workers: ServiceSlot[] = [];
    for (let i = 0; i < options.workflowWorkers; i++) {
      workers.push(
        createServiceSlot({
          name: `workflow-worker-${i + 1}`,
          entry: join(options.distDir, 'src', 'worker', 'main.js'),
          readyMessage: 'worker ready',
          env: cleanEnv({
            ...common,
            SNAPKEEPER_WORKER_ROLES: 'workflow',
            SNAPKEEPER_HOST_ID: hosts[0]?.id ?? 'chaos-a',
          }),
          log,
        }),
      );
    }
    for (const host of hosts) {
      workers.push(
        createServiceSlot({
          name: `docker-worker-${host.id}`,
          entry: join(options.distDir, 'src', 'worker', 'main.js'),
          readyMessage: 'worker ready',
          env: cleanEnv({
            ...common,
            SNAPKEEPER_WORKER_ROLES: 'docker',
            SNAPKEEPER_HOST_ID: host.id,
            DOCKER_HOST: host.engine.dockerHost,
          }),
          log,
        }),
      );
    }
    const port = await findFreePort();
    const api = createServiceSlot({
      name: 'api',
      entry: join(options.distDir, 'src', 'api', 'main.js'),
      readyMessage: 'api listening',
      env: cleanEnv({
        ...common,
        SNAPKEEPER_HOST_ID: hosts[0]?.id ?? 'chaos-a',
        SNAPKEEPER_PORT: String(port),
        SNAPKEEPER_LISTEN_HOST: '127.0.0.1',
        SNAPKEEPER_API_TOKEN: token,
        GITHUB_WEBHOOK_SECRET: secret,
      }),
      log,
    });
    const slots = [...workers, api];
    stack.push(async () => {
      await Promise.all(slots.map((s) => s.stop()));
    });
    // One at a time: each workflow worker bundles the workflow code, which is CPU-bound.
    for (const slot of slots) {
      await slot.start();
      log(`${slot.name} ready`);
    }

    const connection = await Connection.connect({ address: server.address });
    stack.push(() => connection.close());
    const client = new Client({ connection });

    return {
      hosts,
      server,
      apiUrl: `http://127.0.0.1:${port}`,
      token,
      secret,
      workers,
      api,
      client,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

// The processes under test get exactly this configuration: a DOCKER_HOST or TEMPORAL_ADDRESS from
// the caller's shell would point a worker that deletes images at the wrong engine.
const CONFIG_PREFIXES = ['DOCKER_', 'TEMPORAL_', 'SNAPKEEPER_', 'GITHUB_'];

function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !CONFIG_PREFIXES.some((p) => key.startsWith(p))),
  );
  return { ...inherited, ...env };
}
