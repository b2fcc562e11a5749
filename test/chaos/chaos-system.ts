// The real system a chaos run drives: one Temporal server (the dev server on a SQLite file, or the
// production-shaped server on PostgreSQL), a private Docker engine per host, a Docker worker per
// host, workflow workers, and the API, each its own process; a fault proxy on every link from those
// processes to the Temporal frontend and to their engine, and optionally a host whose data root is a
// small tmpfs the run fills up.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import Dockerode from 'dockerode';
import { ensureBaseImage } from '../../scripts/lib/base-image.js';
import type { DockerEngine } from '../../scripts/lib/docker-engine.js';
import { startDockerEngine } from '../../scripts/lib/docker-engine.js';
import type { FaultProxy } from '../../scripts/lib/fault-proxy.js';
import { startFaultProxy } from '../../scripts/lib/fault-proxy.js';
import { findFreePort } from '../../scripts/lib/free-port.js';
import type { TemporalKind } from '../support/provided-context.js';
import type { TestTemporal } from '../support/test-temporal.js';
import { startTestTemporal } from '../support/test-temporal.js';
import type { ServiceSlot } from './service-slot.js';
import { createServiceSlot } from './service-slot.js';
import { commitPlainImage } from './chaos-images.js';
import type { FullDisk } from './full-disk.js';
import { mountSmallDisk } from './full-disk.js';

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
  /** The engine's data root is a small tmpfs the run can fill up; absent on other hosts. */
  readonly disk?: FullDisk;
}

/** One link a fault proxy sits on: `<process>→temporal` or `docker-worker-<host>→engine`. */
export interface ChaosLink {
  readonly name: string;
  readonly proxy: FaultProxy;
}

export interface ChaosSystem {
  readonly hosts: ChaosHost[];
  readonly server: TestTemporal;
  readonly apiUrl: string;
  readonly token: string;
  readonly secret: string;
  readonly workers: ServiceSlot[];
  readonly api: ServiceSlot;
  /**
   * The network between the processes under test and what they call: every worker and the API
   * reach the Temporal frontend, and every Docker worker its engine, through a fault proxy. The
   * run's own client and the lifecycles' Docker calls (the router's side) go direct.
   */
  readonly links: ChaosLink[];
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
  /** Host indexes whose engine's data root is a tmpfs of this many MiB (it needs root to mount). */
  smallDisks?: { hosts: number[]; sizeMiB: number };
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
    // A small disk is mounted where the engine will put its data root, before the engine starts;
    // docker-engine.sh leaves a filesystem mounted there on purpose in place across restarts.
    const disks = new Map<number, FullDisk>();
    for (const i of options.smallDisks?.hosts ?? []) {
      if (i >= options.hostCount) continue;
      const disk = await mountSmallDisk(
        join(workDir, `engine-${i}`, 'data'),
        options.smallDisks?.sizeMiB ?? 256,
      );
      disks.set(i, disk);
      stack.push(() => disk.unmount());
    }
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
        ...(disks.has(i) ? { disk: disks.get(i) } : {}),
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

    const links: ChaosLink[] = [];
    const [serverHost, serverPort] = splitAddress(server.address);
    const temporalLink = async (name: string): Promise<string> => {
      const proxy = await startFaultProxy({
        name,
        listen: { host: '127.0.0.1', port: 0 },
        target: { host: serverHost, port: serverPort },
      });
      links.push({ name, proxy });
      return proxy.address;
    };
    const engineLink = async (host: ChaosHost): Promise<string> => {
      const name = `docker-worker-${host.id}→engine`;
      const proxy = await startFaultProxy({
        name,
        listen: { path: join(workDir, `${host.id}.proxy.sock`) },
        target: { path: host.engine.socketPath },
      });
      links.push({ name, proxy });
      return proxy.address;
    };
    stack.push(async () => {
      await Promise.all(links.map((l) => l.proxy.close()));
    });

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
      const name = `workflow-worker-${i + 1}`;
      workers.push(
        createServiceSlot({
          name,
          entry: join(options.distDir, 'src', 'worker', 'main.js'),
          readyMessage: 'worker ready',
          env: cleanEnv({
            ...common,
            TEMPORAL_ADDRESS: await temporalLink(`${name}→temporal`),
            SNAPKEEPER_WORKER_ROLES: 'workflow',
            SNAPKEEPER_HOST_ID: hosts[0]?.id ?? 'chaos-a',
          }),
          log,
        }),
      );
    }
    for (const host of hosts) {
      const name = `docker-worker-${host.id}`;
      workers.push(
        createServiceSlot({
          name,
          entry: join(options.distDir, 'src', 'worker', 'main.js'),
          readyMessage: 'worker ready',
          env: cleanEnv({
            ...common,
            TEMPORAL_ADDRESS: await temporalLink(`${name}→temporal`),
            SNAPKEEPER_WORKER_ROLES: 'docker',
            SNAPKEEPER_HOST_ID: host.id,
            DOCKER_HOST: await engineLink(host),
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
        TEMPORAL_ADDRESS: await temporalLink('api→temporal'),
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
      links,
      client,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  if (at < 0 || !Number.isInteger(port)) throw new Error(`not a host:port: ${address}`);
  return [address.slice(0, at), port];
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
