// snapkeeper as it runs in production, in front of the bench's engine and Temporal: the worker
// (src/worker/main.ts, both roles) in its own process, and the real API (createApiServer, as
// src/api/main.ts builds it) listening on a loopback port in this process, so the moment a request
// arrives can be taken on the same clock as Docker's events.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { NodeService } from '../scripts/lib/node-service.js';
import { startNodeService } from '../scripts/lib/node-service.js';
import { createApiServer } from '../src/api/server.js';
import { createApiMetrics } from '../src/api/metrics.js';
import { SnapkeeperClient } from '../src/client/snapkeeper-client.js';
import { loadConfig } from '../src/config/config.js';
import { parseProjectPolicies } from '../src/config/project-policy.js';
import { createLogger } from '../src/logging/logger.js';
import type { SnapshotService } from '../src/service/snapshot-service.js';
import { createSnapshotService } from '../src/service/snapshot-service.js';
import type { BenchEnvironment } from './bench-environment.js';
import { wallMs } from './stats.js';

export interface SnapkeeperStack {
  hostId: string;
  baseUrl: string;
  /** The webhook secret the API verifies deliveries with. */
  secret: string;
  api: SnapkeeperClient;
  /** A Temporal client of its own, for raw baselines (not the API's connection). */
  client: Client;
  service: SnapshotService;
  /** When each webhook delivery (by X-GitHub-Delivery) reached the API, in wall ms. */
  arrivals: Map<string, number>;
  workerPid: number;
  stop(): Promise<void>;
}

/** Only these reach the worker: a DOCKER_HOST of the shell must never point it at a real engine. */
const CONFIG_PREFIXES = ['DOCKER_', 'TEMPORAL_', 'SNAPKEEPER_', 'GITHUB_'];

export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !CONFIG_PREFIXES.some((p) => key.startsWith(p))),
  );
  return { ...inherited, ...env };
}

export async function startSnapkeeperStack(
  environment: BenchEnvironment,
  options: { hostId: string; defaultTtlSeconds?: number },
): Promise<SnapkeeperStack> {
  const secret = randomBytes(16).toString('hex');
  const env: Record<string, string> = {
    TEMPORAL_ADDRESS: environment.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    DOCKER_HOST: environment.dockerHost,
    SNAPKEEPER_HOST_ID: options.hostId,
    SNAPKEEPER_LOG_LEVEL: 'info',
    // The bench's baseline images are managed-labelled and unregistered on purpose: the reconciler
    // must not take them while they are measured.
    SNAPKEEPER_RECONCILE_INTERVAL: '24h',
    SNAPKEEPER_ORPHAN_GRACE: '24h',
    SNAPKEEPER_WORKER_METRICS_PORT: '0',
    SNAPKEEPER_DEFAULT_TTL: `${options.defaultTtlSeconds ?? 86_400}s`,
  };
  const worker: NodeService = await startNodeService({
    name: 'worker',
    entry: 'src/worker/main.ts',
    env: childEnv(env),
    readyMessage: 'worker ready',
  });
  const closers: Array<() => Promise<unknown>> = [() => worker.stop('SIGTERM', 30_000)];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    await worker.waitReady(120_000);
    const config = loadConfig({ ...env, GITHUB_WEBHOOK_SECRET: secret, SNAPKEEPER_LOG_LEVEL: 'warn' });
    const apiConnection = await Connection.connect({ address: environment.temporalAddress });
    closers.push(() => apiConnection.close());
    const apiClient = new Client({ connection: apiConnection, namespace: 'default' });
    const log = createLogger({ level: 'warn', name: 'bench-api' });
    const app = createApiServer({
      config,
      service: createSnapshotService({ client: apiClient, defaultTtlSeconds: config.defaultTtlSeconds }),
      client: apiClient,
      policies: parseProjectPolicies('{}'),
      log,
      metrics: createApiMetrics({ defaultMetrics: false }),
    });
    const arrivals = new Map<string, number>();
    app.addHook('onRequest', async (request) => {
      const delivery = request.headers['x-github-delivery'];
      if (typeof delivery === 'string') arrivals.set(delivery, wallMs());
    });
    const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    closers.push(() => app.close());

    const connection = await Connection.connect({ address: environment.temporalAddress });
    closers.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });
    return {
      hostId: options.hostId,
      baseUrl,
      secret,
      api: new SnapkeeperClient({ baseUrl }),
      client,
      service: createSnapshotService({ client, defaultTtlSeconds: config.defaultTtlSeconds }),
      arrivals,
      workerPid: worker.pid,
      stop: close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
