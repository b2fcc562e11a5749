// The infrastructure one bench run measures against: a private Docker engine, the busybox base
// image, and a Temporal server (the CLI's dev server on SQLite, or the PostgreSQL-backed server that
// production runs), all started here and gone afterwards.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBaseImage } from '../scripts/lib/base-image.js';
import { startDockerEngine } from '../scripts/lib/docker-engine.js';
import { ensureTemporal } from '../scripts/lib/ensure-temporal.js';
import {
  DYNAMIC_CONFIG_FILE,
  SERVER_ENV_FILE,
  readEnvFile,
  startTemporalCluster,
} from '../scripts/lib/temporal-cluster.js';
import {
  DEV_SERVER_DYNAMIC_CONFIG,
  DEV_SERVER_SQLITE_PRAGMAS,
  startDevServer,
} from '../scripts/lib/temporal-dev-server.js';
import type { TemporalKind } from './cli-options.js';

export interface BenchEnvironment {
  dockerHost: string;
  temporalAddress: string;
  /** host:port of the frontend's HTTP/JSON API (the CLI's fast path, B8); null on the cluster. */
  temporalHttpAddress: string | null;
  baseImage: string;
  /** What the figures were taken against, written beside them. */
  server: Record<string, unknown>;
  /** The processes of the engine and the Temporal server by name (pids), for CPU accounting. */
  processes(): Record<string, number>;
  stop(): Promise<void>;
}

export const BASE_IMAGE = 'snapkeeper-bench/base:latest';

/**
 * What `temporal server start-dev` of CLI v1.5.1 sets on top of the server's defaults
 * (temporalcli/commands.server.go and temporalcli/devserver/server.go of that tag), then what
 * scripts/lib/temporal-dev-server.ts passes; nothing else, so eager activity dispatch
 * (system.enableActivityEagerExecution) stays off.
 */
const BENCH_DEV_SERVER_DYNAMIC_CONFIG = {
  'system.forceSearchAttributesCacheRefreshOnRead': true,
  'frontend.persistenceMaxQPS': 10000,
  'history.persistenceMaxQPS': 45000,
  'history.hostLevelCacheMaxSize': 8096,
  'frontend.namespaceRPS.visibility': 100,
  'system.enableActivityEagerExecution': false,
  ...DEV_SERVER_DYNAMIC_CONFIG,
};

/** dockerd's pid, from the pid file scripts/docker-engine.sh starts it with; none when unreadable. */
function engineProcess(engineDir: string): Record<string, number> {
  try {
    const pid = Number(readFileSync(join(engineDir, 'docker.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? { dockerd: pid } : {};
  } catch {
    return {};
  }
}

export async function startBenchEnvironment(dir: string, kind: TemporalKind): Promise<BenchEnvironment> {
  const engine = await startDockerEngine(join(dir, 'engine'));
  const stops: Array<() => Promise<void>> = [() => engine.stop()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const baseImage = BASE_IMAGE;
    await ensureBaseImage(engine.dockerHost, baseImage);
    if (kind === 'dev') {
      const { temporalCliPath } = await ensureTemporal();
      const pragmas = Object.entries(DEV_SERVER_SQLITE_PRAGMAS)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      const server = await startDevServer({
        cliPath: temporalCliPath,
        dbFile: join(dir, 'temporal.sqlite'),
        headless: true,
        httpPort: 0,
      });
      stops.push(() => server.stop());
      return {
        dockerHost: engine.dockerHost,
        temporalAddress: server.address,
        temporalHttpAddress: server.httpAddress,
        baseImage,
        server: {
          kind: 'dev',
          what: `temporal server start-dev (CLI v1.5.1, server v1.29.1), SQLite file (${pragmas}), headless`,
          dynamicConfig: BENCH_DEV_SERVER_DYNAMIC_CONFIG,
        },
        processes: () => ({ temporal: server.pid, ...engineProcess(engine.dir) }),
        stop: stopAll,
      };
    }
    const cluster = await startTemporalCluster({ dir: join(dir, 'cluster') });
    stops.push(() => cluster.stop());
    const env = readEnvFile(SERVER_ENV_FILE);
    return {
      dockerHost: engine.dockerHost,
      temporalAddress: cluster.address,
      temporalHttpAddress: null,
      baseImage,
      server: {
        kind: 'cluster',
        what: 'temporal server v1.29.1 (all services in one process) on PostgreSQL 15 (scripts/lib/temporal-cluster.ts)',
        serverEnv: env,
        dynamicConfigFile: 'deploy/temporal/dynamicconfig.yaml',
        dynamicConfig: await readFile(DYNAMIC_CONFIG_FILE, 'utf8'),
        eagerActivities:
          'server default (system.enableActivityEagerExecution off) unless the file above sets it',
      },
      processes: () => engineProcess(engine.dir),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
