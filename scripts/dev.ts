// `npm run dev`: everything snapkeeper needs on one machine, from a fresh clone, with no settings.
// Temporal dev server (SQLite in .data/temporal, Web UI on 8233), a private Docker engine under
// .data/docker with the base image, the worker, and the API. Ctrl-C stops it all in reverse order.
import { existsSync } from 'node:fs';
import { ensureBaseImage } from './lib/base-image.js';
import type { DockerEngine } from './lib/docker-engine.js';
import { startDockerEngine } from './lib/docker-engine.js';
import { ensureTemporal } from './lib/ensure-temporal.js';
import type { NodeService } from './lib/node-service.js';
import { startNodeService } from './lib/node-service.js';
import { prefixLines } from './lib/prefix-lines.js';
import { repoPath } from './lib/repo-root.js';
import type { DevServer } from './lib/temporal-dev-server.js';
import { startDevServer } from './lib/temporal-dev-server.js';
import { loadConfig } from '../src/config/config.js';
import { describeTemporalConnection } from '../src/temporal/connection-options.js';

const TEMPORAL_PORT = 7233;
const TEMPORAL_UI_PORT = 8233;
const BASE_IMAGE = 'snapkeeper-dev/base:latest';

interface Running {
  name: string;
  stop(): Promise<void>;
  /** Last resort when this process exits without a clean shutdown. */
  killNow?(): void;
}

const running: Running[] = [];
let shuttingDown = false;
let shutdownStartedAt = 0;
// A terminal's Ctrl-C reaches this process twice: directly (same process group) and relayed by the
// tsx CLI that runs it. Only a Ctrl-C pressed again later means "hurry up".
const REPEATED_SIGNAL_WINDOW_MS = 1_500;

const say = (message: string) => process.stdout.write(`dev     │ ${message}\n`);
const warn = (message: string) => process.stderr.write(`dev     │ WARNING: ${message}\n`);

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  // Children run in their own process groups (so Ctrl-C reaches only this process, which then
  // stops them in order); if this process dies some other way, they must not outlive it.
  process.on('exit', () => {
    for (const r of running) r.killNow?.();
  });

  const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
  if (!process.env.SNAPKEEPER_API_TOKEN) {
    warn(
      'SNAPKEEPER_API_TOKEN is not set: the API accepts unauthenticated requests. Set it outside local development.',
    );
  }

  // A Temporal named by the environment (an address, or a profile of Temporal's profile file) is
  // used as it is: nothing is built, and no Go toolchain is needed.
  const external = ['TEMPORAL_ADDRESS', 'TEMPORAL_PROFILE', 'TEMPORAL_CONFIG_FILE'].some(
    (v) => process.env[v],
  );
  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  let webUi: string | undefined;
  if (external) {
    say(`using the Temporal server at ${describeExternalTemporal()} (Temporal's environment configuration)`);
  } else {
    say('making sure the Temporal CLI is built (minutes the first time, cached in ~/.cache/snapkeeper)');
    const { temporalCliPath } = await ensureTemporal();
    say(`starting the Temporal dev server on 127.0.0.1:${TEMPORAL_PORT}`);
    let server: DevServer;
    try {
      server = await startDevServer({
        cliPath: temporalCliPath,
        dbFile: repoPath('.data', 'temporal', 'snapkeeper.sqlite'),
        port: TEMPORAL_PORT,
        uiPort: TEMPORAL_UI_PORT,
        ip: '127.0.0.1',
        namespaces: [namespace],
        detached: true,
        onLine: prefixLines('temporal', 0),
      });
    } catch (err) {
      throw new Error(
        `${err instanceof Error ? err.message : String(err)}\n` +
          `If another Temporal server already runs there, point snapkeeper at it: TEMPORAL_ADDRESS=localhost:${TEMPORAL_PORT} npm run dev`,
      );
    }
    const pid = server.pid;
    running.push({ name: 'temporal dev server', stop: () => server.stop(), killNow: () => killQuietly(pid) });
    temporalAddress = server.address;
    webUi = `http://localhost:${TEMPORAL_UI_PORT}`;
  }

  let dockerHost = process.env.DOCKER_HOST;
  if (dockerHost) {
    warn(
      `using DOCKER_HOST=${dockerHost}: snapkeeper will remove managed images (label io.snapkeeper.managed=true) there`,
    );
  } else {
    say('starting a private Docker engine under .data/docker');
    const engine: DockerEngine = await startDockerEngine(repoPath('.data', 'docker'));
    // The engine's own watcher stops it once this process is gone; stop() is the orderly path.
    running.push({ name: 'docker engine', stop: () => engine.stop() });
    dockerHost = engine.dockerHost;
    await ensureBaseImage(dockerHost, BASE_IMAGE);
  }

  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...(temporalAddress ? { TEMPORAL_ADDRESS: temporalAddress } : {}),
    DOCKER_HOST: dockerHost,
  };
  const worker = await startService('worker', 'src/worker/main.ts', 'worker ready', childEnv, 1);

  const apiPort = process.env.SNAPKEEPER_PORT ?? '8080';
  let api: NodeService | undefined;
  if (existsSync(repoPath('src', 'api', 'main.ts'))) {
    api = await startService(
      'api',
      'src/api/main.ts',
      'api listening',
      { ...childEnv, SNAPKEEPER_PORT: apiPort },
      2,
    );
  } else {
    warn('src/api/main.ts does not exist yet: the API is not started');
  }

  say('');
  say('snapkeeper is running:');
  say(`  Temporal gRPC   ${external ? describeExternalTemporal() : temporalAddress}`);
  if (webUi) say(`  Temporal Web UI ${webUi}`);
  if (api) say(`  API             http://localhost:${apiPort}`);
  say(`  Docker host     ${dockerHost}${process.env.DOCKER_HOST ? '' : `  (base image ${BASE_IMAGE})`}`);
  say(`  worker          pid ${worker.pid}`);
  say('Ctrl-C stops everything.');
}

async function startService(
  name: string,
  entry: string,
  readyMessage: string,
  env: NodeJS.ProcessEnv,
  index: number,
): Promise<NodeService> {
  say(`starting the ${name} (${entry})`);
  const service = await startNodeService({
    name,
    entry,
    env,
    readyMessage,
    detached: true,
    onLine: prefixLines(name, index),
  });
  running.push({
    name,
    stop: async () => void (await service.stop('SIGTERM', 20_000)),
    killNow: () => killQuietly(service.pid),
  });
  // A service that dies on its own takes the whole dev environment down with it: a half-running
  // setup would look healthy while doing nothing.
  void service.exited.then((exit) => {
    if (!shuttingDown) {
      warn(`${name} exited unexpectedly (${exit.signal ?? `code ${exit.code}`}); stopping everything`);
      void shutdown(`${name} exit`, 1);
    }
  });
  await service.waitReady(120_000);
  return service;
}

async function shutdown(reason: string, exitCode: number): Promise<void> {
  if (shuttingDown) {
    if (reason === 'SIGINT' && Date.now() - shutdownStartedAt > REPEATED_SIGNAL_WINDOW_MS) {
      warn('second Ctrl-C: killing everything now');
      process.exit(130);
    }
    return;
  }
  shuttingDown = true;
  shutdownStartedAt = Date.now();
  say(`stopping (${reason})`);
  for (const r of [...running].reverse()) {
    try {
      await r.stop();
      say(`${r.name} stopped`);
    } catch (err) {
      warn(`stopping the ${r.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      exitCode = exitCode || 1;
    }
    running.splice(running.indexOf(r), 1);
  }
  process.exit(exitCode);
}

/** Address, namespace and transport as the services will resolve them, for the operator to check. */
function describeExternalTemporal(): string {
  try {
    const t = describeTemporalConnection(loadConfig().temporal);
    return `${t.address} (namespace ${t.namespace}, ${t.transport}${t.apiKey ? ', API key' : ''})`;
  } catch (err) {
    // The services report the configuration error themselves, with every detail.
    return `${process.env.TEMPORAL_ADDRESS ?? 'the configured profile'} (${err instanceof Error ? err.message.split('\n').join(' ') : String(err)})`;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`dev     │ ${err instanceof Error ? err.message : String(err)}\n`);
  await shutdown('start-up failed', 1);
});
