import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { guardAgainstOrphaning } from './orphan-guard.js';

export type OutputStream = 'stdout' | 'stderr';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartChildOptions {
  /** Shown in error messages and by line prefixes. */
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user and group (root only): PostgreSQL refuses to run as root. */
  uid?: number;
  gid?: number;
  /**
   * Own process group. A terminal's Ctrl-C then reaches only the parent, which can stop its
   * children in order; without it every child gets SIGINT at the same moment.
   */
  detached?: boolean;
  onLine?: (line: string, stream: OutputStream) => void;
  /** Oldest lines are dropped beyond this, so a chatty long-lived child cannot grow without bound. */
  maxLogBytes?: number;
  /** The child is stopped once this process is gone (default: this process; null: never). */
  ownerPid?: number | null;
}

export interface StopOptions {
  signal?: NodeJS.Signals;
  /** After this, SIGKILL. */
  timeoutMs?: number;
}

export interface ManagedChild {
  readonly name: string;
  readonly pid: number;
  /** Settles once the process has exited and its output has been read. */
  readonly exited: Promise<ChildExit>;
  exitStatus(): ChildExit | undefined;
  /** Captured stdout and stderr lines, interleaved in arrival order. */
  logs(): string;
  stop(options?: StopOptions): Promise<ChildExit>;
  kill9(): Promise<ChildExit>;
}

const DEFAULT_MAX_LOG_BYTES = 4 * 1024 * 1024;
// A grandchild that inherited stdout can keep the pipe open after the child itself is gone.
const CLOSE_GRACE_MS = 1_000;

export async function startChild(options: StartChildOptions): Promise<ManagedChild> {
  const child = spawn(options.command, [...options.args], {
    env: options.env ?? process.env,
    cwd: options.cwd,
    detached: options.detached ?? false,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  // 'spawn' or 'error' (ENOENT, EACCES): nothing else is worth waiting for if the binary is wrong.
  await once(child, 'spawn');
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name}: no pid after spawn`);

  const lines: string[] = [];
  let logBytes = 0;
  const maxLogBytes = options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
  const capture = (stream: OutputStream) => (line: string) => {
    lines.push(line);
    logBytes += line.length + 1;
    while (logBytes > maxLogBytes && lines.length > 1) logBytes -= (lines.shift() ?? '').length + 1;
    options.onLine?.(line, stream);
  };
  createInterface({ input: child.stdout }).on('line', capture('stdout'));
  createInterface({ input: child.stderr }).on('line', capture('stderr'));

  const ownerPid = options.ownerPid === undefined ? process.pid : options.ownerPid;
  const releaseGuard = ownerPid === null ? () => undefined : guardAgainstOrphaning(pid, ownerPid);

  let status: ChildExit | undefined;
  const exited = waitForExit(child).then((exit) => {
    status = exit;
    releaseGuard();
    return exit;
  });

  const awaitExit = async (timeoutMs: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolveTimeout) => {
      timer = setTimeout(() => resolveTimeout(false), timeoutMs);
    });
    try {
      return await Promise.race([exited.then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  };

  const signal = (sig: NodeJS.Signals): void => {
    if (status) return;
    try {
      process.kill(pid, sig);
    } catch (err) {
      // Already gone between the check and the kill.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };

  return {
    name: options.name,
    pid,
    exited,
    exitStatus: () => status,
    logs: () => lines.join('\n'),
    async stop(stopOptions: StopOptions = {}) {
      if (status) return status;
      signal(stopOptions.signal ?? 'SIGTERM');
      if (!(await awaitExit(stopOptions.timeoutMs ?? 20_000))) {
        options.onLine?.(`${options.name} did not exit in time; sending SIGKILL`, 'stderr');
        signal('SIGKILL');
      }
      return exited;
    },
    async kill9() {
      signal('SIGKILL');
      return exited;
    },
  };
}

async function waitForExit(child: ChildProcess): Promise<ChildExit> {
  return new Promise((resolveExit) => {
    let exit: ChildExit | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(graceTimer);
      if (exit) resolveExit(exit);
    };
    child.once('exit', (code, sig) => {
      exit = { code, signal: sig };
      graceTimer = setTimeout(done, CLOSE_GRACE_MS);
    });
    child.once('close', (code: number | null, sig: NodeJS.Signals | null) => {
      exit ??= { code, signal: sig };
      done();
    });
  });
}

export function describeExit(exit: ChildExit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

/** The last lines of a log, for error messages that must stay readable. */
export function tail(text: string, lineCount = 40): string {
  return text.split('\n').slice(-lineCount).join('\n');
}
