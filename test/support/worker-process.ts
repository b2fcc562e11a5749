import type { NodeService } from '../../scripts/lib/node-service.js';
import { startNodeService } from '../../scripts/lib/node-service.js';

export type WorkerProcess = NodeService;
export type ApiProcess = NodeService;

export interface StartProcessOptions {
  /** The whole snapkeeper configuration of the process; nothing else leaks in (see cleanEnv). */
  env: Record<string, string>;
  /** Passes each output line on, e.g. to console.log while debugging a test. */
  onLine?: (line: string) => void;
}

/** `src/worker/main.ts` in its own process, for tests that kill it. Ready on the `worker ready` log line. */
export async function startWorkerProcess(options: StartProcessOptions): Promise<WorkerProcess> {
  return startNodeService({
    name: 'worker',
    entry: 'src/worker/main.ts',
    env: cleanEnv(options.env),
    readyMessage: 'worker ready',
    ...(options.onLine ? { onLine: options.onLine } : {}),
  });
}

/** `src/api/main.ts` in its own process. Ready on the `api listening` log line. */
export async function startApiProcess(options: StartProcessOptions): Promise<ApiProcess> {
  return startNodeService({
    name: 'api',
    entry: 'src/api/main.ts',
    env: cleanEnv(options.env),
    readyMessage: 'api listening',
    ...(options.onLine ? { onLine: options.onLine } : {}),
  });
}

/**
 * The API in its own process on a free loopback port (SNAPKEEPER_PORT 0), with the URL it
 * announced in its `api listening` line.
 */
export async function startListeningApi(
  options: StartProcessOptions,
): Promise<{ api: ApiProcess; url: string }> {
  let url: string | undefined;
  const api = await startApiProcess({
    env: {
      SNAPKEEPER_PORT: '0',
      SNAPKEEPER_LISTEN_HOST: '127.0.0.1',
      SNAPKEEPER_LOG_LEVEL: 'info',
      ...options.env,
    },
    onLine(line) {
      options.onLine?.(line);
      if (url || !line.startsWith('{')) return;
      const parsed = JSON.parse(line) as { msg?: string; url?: string };
      if (parsed.msg === 'api listening') url = parsed.url;
    },
  });
  await api.waitReady();
  if (!url) throw new Error('the api listening line carries no url');
  return { api, url };
}

// A DOCKER_HOST or TEMPORAL_ADDRESS from the developer's shell must never reach a process under
// test: the worker deletes images, and it would delete them on the machine's real engine.
const CONFIG_PREFIXES = ['DOCKER_', 'TEMPORAL_', 'SNAPKEEPER_', 'GITHUB_'];

function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !CONFIG_PREFIXES.some((prefix) => key.startsWith(prefix))),
  );
  // Processes under test serve no worker metrics unless asked: two on one machine would share 9464.
  return { ...inherited, SNAPKEEPER_WORKER_METRICS_PORT: '0', ...env };
}
