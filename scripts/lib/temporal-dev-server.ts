import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/contract/search-attributes.js';
import { assertPortFree, findFreePort } from './free-port.js';
import { waitTemporalReady } from './wait-temporal-ready.js';
import type { ManagedChild, OutputStream } from './managed-child.js';
import { startChild } from './managed-child.js';
import { ensureSearchAttributes } from '../../src/service/ensure-search-attributes.js';

export interface DevServerOptions {
  /** The `temporal` CLI binary (see scripts/ensure-temporal.sh). */
  cliPath: string;
  /** SQLite file; the server keeps its state there across restarts. */
  dbFile: string;
  /** gRPC port; a free one when omitted. */
  port?: number;
  /** Web UI port; a free one when omitted (ignored when headless). */
  uiPort?: number;
  headless?: boolean;
  /** The frontend's HTTP/JSON API (`--http-port`; 0 = a free one); off when omitted. */
  httpPort?: number;
  /** Created at launch besides `default`, each with the search attributes. */
  namespaces?: string[];
  ip?: string;
  startTimeoutMs?: number;
  detached?: boolean;
  onLine?: (line: string, stream: OutputStream) => void;
  /** Dynamic config values besides DEV_SERVER_DYNAMIC_CONFIG (which they override). */
  dynamicConfig?: Readonly<Record<string, number>>;
}

/**
 * SQLite in write-ahead-log mode, synced at checkpoints rather than at every commit: the server's
 * dispatches (a signal to its workflow task, a workflow task to its activity) took half the time
 * in a merge-to-gone benchmark (docs/benchmarks.md). A commit survives the server's crash (the
 * log is in the file system); only the last commits before a power loss or a kernel crash could be
 * lost, which the dev server's SQLite file, a development store, accepts.
 */
export const DEV_SERVER_SQLITE_PRAGMAS: Readonly<Record<string, string>> = {
  journal_mode: 'wal',
  synchronous: 'normal',
};

/**
 * How often each history shard may load its queues' tasks (the server's default: 20 loads per
 * second, with a burst of 20). The dev server has one shard, and every dispatch (a signal to its
 * workflow task, a workflow task to its activity, a fired timer) waits for a load: past 20 a second
 * each waited about 35 ms in the merge-to-gone benchmark, 4 ms with this (docs/benchmarks.md).
 * The cluster sets the same in deploy/temporal/dynamicconfig.yaml.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, number>> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
  'history.visibilityProcessorMaxPollRPS': 1000,
};

export interface DevServer {
  /** host:port of the gRPC frontend. */
  readonly address: string;
  readonly port: number;
  readonly uiPort: number | undefined;
  /** host:port of the HTTP/JSON API; null when off. */
  readonly httpAddress: string | null;
  /** Changes on restart. */
  readonly pid: number;
  readonly namespaces: readonly string[];
  /** Graceful: SIGTERM, then SIGKILL only after a deadline. */
  stop(): Promise<void>;
  /** Stops gracefully and starts again on the same ports and the same SQLite file. */
  restart(): Promise<void>;
  logs(): string;
}

const PORT_ATTEMPTS = 3;

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const headless = options.headless ?? false;
  const namespaces = [...new Set(['default', ...(options.namespaces ?? [])])];
  const dbFile = resolve(options.dbFile);
  await mkdir(dirname(dbFile), { recursive: true });
  const timeoutMs = options.startTimeoutMs ?? 120_000;

  let port = 0;
  let uiPort: number | undefined;
  let httpPort: number | undefined;
  let child: ManagedChild | undefined;

  const args = (): string[] => [
    'server',
    'start-dev',
    '--db-filename',
    dbFile,
    ...Object.entries(DEV_SERVER_SQLITE_PRAGMAS).flatMap(([k, v]) => ['--sqlite-pragma', `${k}=${v}`]),
    '--ip',
    ip,
    '--port',
    String(port),
    ...(headless ? ['--headless'] : ['--ui-port', String(uiPort)]),
    ...(httpPort === undefined ? [] : ['--http-port', String(httpPort)]),
    ...namespaces.filter((ns) => ns !== 'default').flatMap((ns) => ['--namespace', ns]),
    ...Object.entries(SEARCH_ATTRIBUTE_TYPES).flatMap(([name, type]) => [
      '--search-attribute',
      `${name}=${type}`,
    ]),
    // The user's CLI profile (~/.config/temporalio) must not change how the server starts.
    '--disable-config-file',
    '--disable-config-env',
    ...Object.entries({ ...DEV_SERVER_DYNAMIC_CONFIG, ...options.dynamicConfig }).flatMap(([k, v]) => [
      '--dynamic-config-value',
      `${k}=${v}`,
    ]),
  ];

  const launch = async (): Promise<ManagedChild> => {
    await assertPortFree(port, ip);
    if (uiPort !== undefined) await assertPortFree(uiPort, ip);
    if (httpPort !== undefined) await assertPortFree(httpPort, ip);
    const started = await startChild({
      name: 'temporal',
      command: options.cliPath,
      args: args(),
      detached: options.detached ?? false,
      ...(options.onLine ? { onLine: options.onLine } : {}),
    });
    try {
      await waitReady(started, `${ip}:${port}`, namespaces, timeoutMs);
      return started;
    } catch (err) {
      await started.stop({ timeoutMs: 5_000 });
      throw err;
    }
  };

  // Ports picked by listening on port 0 can be taken by someone else before the server binds
  // them; only then is it worth another try with fresh ones.
  for (let attempt = 1; ; attempt++) {
    port = options.port ?? (await findFreePort(ip));
    uiPort = headless ? undefined : (options.uiPort ?? (await findFreePort(ip)));
    httpPort = options.httpPort === undefined ? undefined : options.httpPort || (await findFreePort(ip));
    try {
      child = await launch();
      break;
    } catch (err) {
      const portsChosenHere = options.port === undefined && (headless || options.uiPort === undefined);
      if (attempt >= PORT_ATTEMPTS || !portsChosenHere || !/already in use/i.test(String(err))) throw err;
    }
  }

  const current = (): ManagedChild => {
    if (!child) throw new Error('temporal dev server is stopped');
    return child;
  };

  const stop = async (): Promise<void> => {
    if (!child) return;
    const stopping = child;
    child = undefined;
    await stopping.stop({ signal: 'SIGTERM', timeoutMs: 30_000 });
  };

  let lastLogs = '';
  return {
    get address() {
      return `${ip}:${port}`;
    },
    port,
    uiPort,
    httpAddress: httpPort === undefined ? null : `${ip}:${httpPort}`,
    get pid() {
      return current().pid;
    },
    namespaces,
    async stop() {
      lastLogs = child?.logs() ?? lastLogs;
      await stop();
    },
    async restart() {
      lastLogs = child?.logs() ?? lastLogs;
      await stop();
      child = await launch();
    },
    logs: () => child?.logs() ?? lastLogs,
  };
}

async function waitReady(
  child: ManagedChild,
  address: string,
  namespaces: readonly string[],
  timeoutMs: number,
): Promise<void> {
  await waitTemporalReady({
    name: 'temporal dev server',
    child,
    address,
    timeoutMs,
    intervalMs: 250,
    async prepare(connection) {
      for (const namespace of namespaces) {
        await connection.workflowService.describeNamespace({ namespace });
        // The --search-attribute flag covers the namespaces the server creates at launch, but
        // this also repairs an older SQLite file made before an attribute was added.
        await ensureSearchAttributes(connection, namespace);
      }
    },
  });
}
