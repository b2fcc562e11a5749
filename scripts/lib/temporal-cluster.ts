import { readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { msToTs } from '@temporalio/common/lib/time.js';
import type { TLSConfig } from '@temporalio/client';
import { ensureSearchAttributes } from '../../src/service/ensure-search-attributes.js';
import type { TemporalServerBinaries } from './ensure-temporal.js';
import { ensureTemporalServer } from './ensure-temporal.js';
import { assertPortFree, findFreePortInRange } from './free-port.js';
import { waitTemporalReady } from './wait-temporal-ready.js';
import type { ManagedChild, OutputStream } from './managed-child.js';
import { startChild } from './managed-child.js';
import type { Postgres } from './postgres.js';
import { startPostgres } from './postgres.js';
import { runScript } from './run-script.js';
import { repoPath } from './repo-root.js';

/**
 * mTLS for the frontend and between the server's own services. One CA signs everything; the server
 * certificate must name `serverName` and allow both server and client authentication (the server's
 * system worker presents it to the frontend).
 */
export interface ClusterTlsFiles {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** Presented by this module's own admin connection (namespaces, search attributes, readiness). */
  clientCertFile: string;
  clientKeyFile: string;
  serverName: string;
}

export interface TemporalClusterOptions {
  /** Owns everything of the cluster: PostgreSQL's data, the chosen ports. Reused when it exists. */
  dir: string;
  /** Frontend gRPC port; the ports of an earlier start in `dir`, else free ones. */
  port?: number;
  /** Created with snapkeeper's search attributes, besides `default`. */
  namespaces?: string[];
  tls?: ClusterTlsFiles;
  binaries?: TemporalServerBinaries;
  startTimeoutMs?: number;
  /** Own process groups (Ctrl-C reaches only the parent, which stops them in order). */
  detached?: boolean;
  onLine?: (line: string, stream: OutputStream, source: 'postgres' | 'temporal') => void;
}

export interface TemporalCluster {
  /** host:port of the gRPC frontend. */
  readonly address: string;
  readonly port: number;
  readonly namespaces: readonly string[];
  readonly postgres: Postgres;
  /** Changes when the server restarts. */
  readonly serverPid: number;
  /** What a client needs besides the address: the TLS options when the cluster has mTLS. */
  readonly clientTls: TLSConfig | undefined;
  /**
   * Stops the Temporal server (SIGTERM, or SIGKILL for a crash) and starts it again on the same
   * ports and the same PostgreSQL databases; resolves once it serves the namespaces again.
   */
  restartServer(options?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /** The server first, then PostgreSQL. */
  stop(): Promise<void>;
  logs(): string;
}

/** Every port the server binds; kept in `<dir>/ports.json` so a restart finds its own membership. */
interface ServerPorts {
  FRONTEND_GRPC_PORT: number;
  FRONTEND_HTTP_PORT: number;
  FRONTEND_MEMBERSHIP_PORT: number;
  HISTORY_GRPC_PORT: number;
  HISTORY_MEMBERSHIP_PORT: number;
  MATCHING_GRPC_PORT: number;
  MATCHING_MEMBERSHIP_PORT: number;
  WORKER_GRPC_PORT: number;
  WORKER_MEMBERSHIP_PORT: number;
  POSTGRES_PORT: number;
}

// Below the kernel's ephemeral range (so no outgoing connection holds them when the server
// restarts), and within a PostgreSQL smallint: Temporal stores membership ports as one.
const PORT_MIN = 20_000;
const PORT_MAX = 32_000;

const PORT_NAMES: readonly (keyof ServerPorts)[] = [
  'FRONTEND_GRPC_PORT',
  'FRONTEND_HTTP_PORT',
  'FRONTEND_MEMBERSHIP_PORT',
  'HISTORY_GRPC_PORT',
  'HISTORY_MEMBERSHIP_PORT',
  'MATCHING_GRPC_PORT',
  'MATCHING_MEMBERSHIP_PORT',
  'WORKER_GRPC_PORT',
  'WORKER_MEMBERSHIP_PORT',
  'POSTGRES_PORT',
];

/** The settings shared with docker-compose.temporal.yml. */
export const SERVER_ENV_FILE = repoPath('deploy', 'temporal', 'server.env');
export const DYNAMIC_CONFIG_FILE = repoPath('deploy', 'temporal', 'dynamicconfig.yaml');
export const SETUP_SCHEMA_SCRIPT = repoPath('deploy', 'temporal', 'setup-schema.sh');
/** Closed workflows stay visible this long; the same as the compose stack's default namespace. */
const NAMESPACE_RETENTION_SECONDS = 7 * 24 * 3600;

/**
 * A production-shaped Temporal: the real server (history, matching, frontend and worker services in
 * one process) with history and visibility in PostgreSQL, configured by Temporal's own config
 * template and the settings in deploy/temporal/ (exactly as the compose stack), the schema created
 * and migrated by deploy/temporal/setup-schema.sh, the namespaces and search attributes registered.
 */
export async function startTemporalCluster(options: TemporalClusterOptions): Promise<TemporalCluster> {
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  // PostgreSQL runs as its own user when this is root; it must be able to pass through `dir`.
  if (process.getuid?.() === 0) await chmod(dir, 0o711);
  const binaries = options.binaries ?? (await ensureTemporalServer());
  const namespaces = [...new Set(['default', ...(options.namespaces ?? [])])];
  const timeoutMs = options.startTimeoutMs ?? 180_000;
  const ports = await choosePorts(dir, options.port);
  const detached = options.detached ?? false;
  const onLine = options.onLine;

  const postgres = await startPostgres({
    dataDir: join(dir, 'postgres'),
    port: ports.POSTGRES_PORT,
    detached,
    ...(onLine ? { onLine: (line: string, stream: OutputStream) => onLine(line, stream, 'postgres') } : {}),
  });

  const address = `127.0.0.1:${ports.FRONTEND_GRPC_PORT}`;
  const clientTls = options.tls ? clientTlsOf(options.tls) : undefined;
  const serverEnv: Record<string, string> = {
    ...readEnvFile(SERVER_ENV_FILE),
    POSTGRES_SEEDS: postgres.host,
    DB_PORT: String(postgres.port),
    VISIBILITY_DB_PORT: String(postgres.port),
    POSTGRES_USER: postgres.user,
    POSTGRES_PWD: '',
    BIND_ON_IP: '127.0.0.1',
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    DYNAMIC_CONFIG_FILE_PATH: DYNAMIC_CONFIG_FILE,
    ...Object.fromEntries(PORT_NAMES.map((name) => [name, String(ports[name])])),
    ...(options.tls ? serverTlsEnv(options.tls) : {}),
  };

  let server: ManagedChild | undefined;
  let lastLogs = '';
  try {
    await runScript(SETUP_SCHEMA_SCRIPT, [], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        TEMPORAL_SQL_TOOL: binaries.sqlToolPath,
        TEMPORAL_SCHEMA_DIR: binaries.schemaDir,
        POSTGRES_SEEDS: postgres.host,
        DB_PORT: String(postgres.port),
        POSTGRES_USER: postgres.user,
        POSTGRES_PWD: '',
        DBNAME: serverEnv.DBNAME ?? 'temporal',
        VISIBILITY_DBNAME: serverEnv.VISIBILITY_DBNAME ?? 'temporal_visibility',
      },
    });

    const launch = async (): Promise<ManagedChild> => {
      for (const name of PORT_NAMES) if (name !== 'POSTGRES_PORT') await assertPortFree(ports[name]);
      const child = await startChild({
        name: 'temporal-server',
        command: binaries.serverPath,
        // Temporal's own template (config/docker.yaml of this server version), rendered from the
        // environment below; nothing of this process's environment leaks into it.
        args: [
          '--root',
          resolve(binaries.configDir, '..'),
          '--config',
          'config',
          '--env',
          'docker',
          '--allow-no-auth',
          'start',
        ],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...serverEnv },
        cwd: dir,
        detached,
        ...(onLine
          ? { onLine: (line: string, stream: OutputStream) => onLine(line, stream, 'temporal') }
          : {}),
      });
      try {
        await waitReady(child, address, namespaces, clientTls, timeoutMs);
        return child;
      } catch (err) {
        await child.stop({ timeoutMs: 10_000 });
        throw err;
      }
    };

    server = await launch();
    const current = (): ManagedChild => {
      if (!server) throw new Error('the Temporal server of the cluster is stopped');
      return server;
    };

    return {
      address,
      port: ports.FRONTEND_GRPC_PORT,
      namespaces,
      postgres,
      get serverPid() {
        return current().pid;
      },
      clientTls,
      async restartServer(restartOptions = {}) {
        const stopping = current();
        server = undefined;
        lastLogs = stopping.logs();
        if (restartOptions.signal === 'SIGKILL') await stopping.kill9();
        else await stopping.stop({ signal: 'SIGTERM', timeoutMs: 30_000 });
        server = await launch();
      },
      async stop() {
        const stopping = server;
        server = undefined;
        if (stopping) {
          lastLogs = stopping.logs();
          await stopping.stop({ signal: 'SIGTERM', timeoutMs: 30_000 });
        }
        await postgres.stop();
      },
      logs: () => server?.logs() ?? lastLogs,
    };
  } catch (err) {
    await server?.stop({ timeoutMs: 10_000 }).catch(() => undefined);
    await postgres.stop().catch(() => undefined);
    throw err;
  }
}

async function choosePorts(dir: string, frontendPort: number | undefined): Promise<ServerPorts> {
  const file = join(dir, 'ports.json');
  let saved: Partial<ServerPorts> = {};
  try {
    saved = JSON.parse(await readFile(file, 'utf8')) as Partial<ServerPorts>;
  } catch {
    // First start in this directory.
  }
  const ports = {} as ServerPorts;
  const taken = new Set<number>();
  for (const name of PORT_NAMES) {
    const wanted = name === 'FRONTEND_GRPC_PORT' && frontendPort !== undefined ? frontendPort : saved[name];
    let port = wanted;
    if (port !== undefined && !taken.has(port)) {
      try {
        await assertPortFree(port);
      } catch (err) {
        if (name === 'FRONTEND_GRPC_PORT' && frontendPort !== undefined) throw err;
        port = undefined;
      }
    } else {
      port = undefined;
    }
    while (port === undefined || taken.has(port)) port = await findFreePortInRange(PORT_MIN, PORT_MAX);
    taken.add(port);
    ports[name] = port;
  }
  await writeFile(file, `${JSON.stringify(ports, null, 2)}\n`);
  return ports;
}

/** `KEY=VALUE` lines and `#` comments, the subset of Compose's env_file format the file uses. */
export function readEnvFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${path}: not KEY=VALUE: ${line}`);
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/** The TEMPORAL_TLS_* variables of Temporal's config template (as documented for its images). */
function serverTlsEnv(tls: ClusterTlsFiles): Record<string, string> {
  return {
    TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true',
    TEMPORAL_TLS_SERVER_CA_CERT: tls.caFile,
    TEMPORAL_TLS_SERVER_CERT: tls.serverCertFile,
    TEMPORAL_TLS_SERVER_KEY: tls.serverKeyFile,
    TEMPORAL_TLS_INTERNODE_SERVER_NAME: tls.serverName,
    TEMPORAL_TLS_FRONTEND_CERT: tls.serverCertFile,
    TEMPORAL_TLS_FRONTEND_KEY: tls.serverKeyFile,
    TEMPORAL_TLS_FRONTEND_SERVER_NAME: tls.serverName,
    // The template lists two client CAs (for rotation); both are this one CA.
    TEMPORAL_TLS_CLIENT1_CA_CERT: tls.caFile,
    TEMPORAL_TLS_CLIENT2_CA_CERT: tls.caFile,
  };
}

function clientTlsOf(tls: ClusterTlsFiles): TLSConfig {
  return {
    serverNameOverride: tls.serverName,
    serverRootCACertificate: readFileSync(tls.caFile),
    clientCertPair: { crt: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile) },
  };
}

const ALREADY_EXISTS = 6;

/**
 * Ready means usable by snapkeeper: the frontend answers, every namespace exists with the search
 * attributes, and a visibility query on one of them succeeds (the namespace and search attribute
 * caches of a real server catch up with a registration only after a refresh).
 */
async function waitReady(
  child: ManagedChild,
  address: string,
  namespaces: readonly string[],
  tls: TLSConfig | undefined,
  timeoutMs: number,
): Promise<void> {
  await waitTemporalReady({
    name: 'temporal-server',
    child,
    address,
    ...(tls ? { tls } : {}),
    timeoutMs,
    intervalMs: 500,
    async prepare(connection) {
      for (const namespace of namespaces) {
        try {
          await connection.workflowService.registerNamespace({
            namespace,
            workflowExecutionRetentionPeriod: msToTs(`${NAMESPACE_RETENTION_SECONDS}s`),
          });
        } catch (err) {
          if ((err as { code?: unknown }).code !== ALREADY_EXISTS) throw err;
        }
        await ensureSearchAttributes(connection, namespace);
        await connection.workflowService.countWorkflowExecutions({
          namespace,
          query: "SnapshotState = 'active'",
        });
      }
    },
  });
}
