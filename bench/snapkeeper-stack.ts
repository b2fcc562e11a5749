// snapkeeper as it runs in production, in front of the bench's engine and Temporal: the worker
// (src/worker/main.ts, both roles) and the API (src/api/main.ts) each in a process of its own,
// configured through the environment only, so whatever those entry points do is what is measured.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { findFreePort } from '../scripts/lib/free-port.js';
import type { NodeService } from '../scripts/lib/node-service.js';
import { startNodeService } from '../scripts/lib/node-service.js';
import { SnapkeeperClient } from '@snapkeeper/client';
import type { BenchEnvironment } from './bench-environment.js';

export interface SnapkeeperStack {
  hostId: string;
  baseUrl: string;
  /** The webhook secret the API verifies deliveries with. */
  secret: string;
  api: SnapkeeperClient;
  /** A Temporal client of the bench's own, for raw baselines (not the API's connection). */
  client: Client;
  /** The environment both processes run with (other workers of the bench start from it). */
  env: Record<string, string>;
  workerPid: number;
  apiPid: number;
  stop(): Promise<void>;
}

/** Only these reach the processes: a DOCKER_HOST of the shell must never point them at a real engine. */
const CONFIG_PREFIXES = ['DOCKER_', 'TEMPORAL_', 'SNAPKEEPER_', 'GITHUB_'];

export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !CONFIG_PREFIXES.some((p) => key.startsWith(p))),
  );
  return { ...inherited, ...env };
}

export async function startSnapkeeperStack(
  environment: BenchEnvironment,
  options: { hostId: string },
): Promise<SnapkeeperStack> {
  const secret = randomBytes(16).toString('hex');
  const env: Record<string, string> = {
    TEMPORAL_ADDRESS: environment.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    DOCKER_HOST: environment.dockerHost,
    SNAPKEEPER_HOST_ID: options.hostId,
    // Production's level; the ready lines are info lines.
    SNAPKEEPER_LOG_LEVEL: 'info',
    // The bench's baseline images are managed-labelled and unregistered on purpose: the reconciler
    // must not take them while they are measured.
    SNAPKEEPER_RECONCILE_INTERVAL: '24h',
    SNAPKEEPER_ORPHAN_GRACE: '24h',
    SNAPKEEPER_WORKER_METRICS_PORT: '0',
    // A merge's later looks (default 10 s and 60 s after the first) are one activity whatever their
    // delays, so B7 counts the same actions with short ones and settles a minute sooner.
    SNAPKEEPER_MERGE_LOOKS: '1s,3s',
  };
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const worker: NodeService = await startNodeService({
      name: 'worker',
      entry: 'src/worker/main.ts',
      env: childEnv(env),
      readyMessage: 'worker ready',
    });
    closers.push(() => worker.stop('SIGTERM', 30_000));
    await worker.waitReady(120_000);

    const port = await findFreePort();
    const api: NodeService = await startNodeService({
      name: 'api',
      entry: 'src/api/main.ts',
      env: childEnv({
        ...env,
        GITHUB_WEBHOOK_SECRET: secret,
        SNAPKEEPER_PORT: String(port),
        SNAPKEEPER_LISTEN_HOST: '127.0.0.1',
      }),
      readyMessage: 'api listening',
    });
    closers.push(() => api.stop('SIGTERM', 30_000));
    await api.waitReady(120_000);
    const baseUrl = `http://127.0.0.1:${port}`;

    const connection = await Connection.connect({ address: environment.temporalAddress });
    closers.push(() => connection.close());
    return {
      hostId: options.hostId,
      baseUrl,
      secret,
      api: new SnapkeeperClient({ baseUrl }),
      client: new Client({ connection, namespace: 'default' }),
      env,
      workerPid: worker.pid,
      apiPid: api.pid,
      stop: close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
