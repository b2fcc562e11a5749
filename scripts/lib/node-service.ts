import { existsSync } from 'node:fs';
import type { ChildExit, OutputStream, StopOptions } from './managed-child.js';
import { describeExit, startChild, tail } from './managed-child.js';
import { REPO_ROOT, repoPath } from './repo-root.js';

export interface StartNodeServiceOptions {
  name: string;
  /** A TypeScript entry point, relative to the repository root (run through tsx's loader). */
  entry: string;
  env: NodeJS.ProcessEnv;
  /** The `msg` of the pino JSON line on stdout that says the service is ready. */
  readyMessage: string;
  detached?: boolean;
  onLine?: (line: string, stream: OutputStream) => void;
}

export interface NodeService {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ChildExit>;
  /** Resolves once the ready line was logged; rejects if the process exits first or time runs out. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** SIGTERM by default, SIGKILL after the deadline. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ChildExit>;
  kill9(): Promise<ChildExit>;
  logs(): string;
}

/**
 * Runs `node --import tsx <entry>`: one process (no npx or tsx CLI wrapper in between), so a signal
 * or SIGKILL reaches the service itself, exactly like a crash in production would.
 */
export async function startNodeService(options: StartNodeServiceOptions): Promise<NodeService> {
  const entryPath = repoPath(options.entry);
  if (!existsSync(entryPath)) throw new Error(`${options.name}: ${options.entry} does not exist`);

  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolveReady) => {
    markReady = resolveReady;
  });
  let isReady = false;

  const child = await startChild({
    name: options.name,
    command: process.execPath,
    // The cwd makes the bare `tsx` resolve from this checkout's node_modules.
    args: ['--import', 'tsx', entryPath],
    cwd: REPO_ROOT,
    env: options.env,
    detached: options.detached ?? false,
    onLine(line, stream) {
      if (!isReady && stream === 'stdout' && readyLine(line, options.readyMessage)) {
        isReady = true;
        markReady();
      }
      options.onLine?.(line, stream);
    },
  });

  return {
    name: options.name,
    pid: child.pid,
    exited: child.exited,
    async waitReady(timeoutMs = 60_000) {
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        ready.then(() => 'ready' as const),
        child.exited.then((exit) => exit),
        new Promise<'timeout'>((resolveTimeout) => {
          timer = setTimeout(() => resolveTimeout('timeout'), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      if (outcome === 'ready') return;
      const why =
        outcome === 'timeout'
          ? `did not log "${options.readyMessage}" within ${timeoutMs} ms`
          : describeExit(outcome);
      throw new Error(`${options.name} (pid ${child.pid}) ${why}; last output:\n${tail(child.logs())}`);
    },
    stop: (signal?: NodeJS.Signals, timeoutMs?: number) => {
      const stopOptions: StopOptions = {};
      if (signal) stopOptions.signal = signal;
      if (timeoutMs !== undefined) stopOptions.timeoutMs = timeoutMs;
      return child.stop(stopOptions);
    },
    kill9: () => child.kill9(),
    logs: () => child.logs(),
  };
}

function readyLine(line: string, message: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null && 'msg' in parsed && parsed.msg === message;
  } catch {
    return false;
  }
}
