import { join } from 'node:path';
import type { OutputStream } from '../../scripts/lib/managed-child.js';
import { startTemporalCluster } from '../../scripts/lib/temporal-cluster.js';
import { startDevServer } from '../../scripts/lib/temporal-dev-server.js';
import type { TemporalKind } from './provided-context.js';

/** One Temporal server, whichever kind the run uses; shared by the harness and files that own one. */
export interface TestTemporal {
  readonly kind: TemporalKind;
  readonly address: string;
  /** host:port of the frontend's HTTP/JSON API (the CLI's fast path); null on the cluster. */
  readonly httpAddress: string | null;
  readonly namespaces: readonly string[];
  /** SQLite file of a dev server; null for the cluster. */
  readonly dbFile: string | null;
  /**
   * Stops the server process and starts it again on the same ports and persistence. SIGKILL (a
   * crash) only for the cluster: the dev server's SQLite file is a development convenience, not
   * crash-safe storage.
   */
  restart(options?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  stop(): Promise<void>;
  logs(): string;
}

/** SNAPKEEPER_TEST_TEMPORAL: `dev` (default) or `cluster`; anything else is a mistake worth stopping for. */
export function testTemporalKind(env: NodeJS.ProcessEnv = process.env): TemporalKind {
  const value = env.SNAPKEEPER_TEST_TEMPORAL ?? 'dev';
  if (value !== 'dev' && value !== 'cluster')
    throw new Error(`SNAPKEEPER_TEST_TEMPORAL must be "dev" or "cluster", not ${JSON.stringify(value)}`);
  return value;
}

export async function startTestTemporal(options: {
  kind: TemporalKind;
  /** A directory this server owns. For the cluster, PostgreSQL's user must be able to reach it. */
  dir: string;
  temporalCliPath: string;
  namespaces?: string[];
  onLine?: (line: string, stream: OutputStream) => void;
}): Promise<TestTemporal> {
  if (options.kind === 'cluster') {
    const cluster = await startTemporalCluster({
      dir: options.dir,
      ...(options.namespaces ? { namespaces: options.namespaces } : {}),
      ...(options.onLine ? { onLine: options.onLine } : {}),
    });
    return {
      kind: 'cluster',
      address: cluster.address,
      httpAddress: null,
      namespaces: cluster.namespaces,
      dbFile: null,
      restart: (restartOptions) => cluster.restartServer(restartOptions),
      stop: () => cluster.stop(),
      logs: () => `${cluster.logs()}\n--- postgres ---\n${cluster.postgres.logs()}`,
    };
  }
  const dbFile = join(options.dir, 'dev.sqlite');
  const server = await startDevServer({
    cliPath: options.temporalCliPath,
    dbFile,
    headless: true,
    httpPort: 0,
    ...(options.namespaces ? { namespaces: options.namespaces } : {}),
    ...(options.onLine ? { onLine: options.onLine } : {}),
  });
  return {
    kind: 'dev',
    address: server.address,
    httpAddress: server.httpAddress,
    namespaces: server.namespaces,
    dbFile,
    async restart(restartOptions) {
      if (restartOptions?.signal === 'SIGKILL')
        throw new Error('the dev server is not crash-tested: its SQLite file is not production storage');
      await server.restart();
    },
    stop: () => server.stop(),
    logs: () => server.logs(),
  };
}
