// One snapkeeper process (a worker or the API) that the chaos run keeps alive: it can be killed
// with SIGKILL at any moment, and it is started again; a process that dies on its own (e.g. it
// could not reach the Temporal server while that restarts) is restarted too, and counted.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildExit, ManagedChild } from '../../scripts/lib/managed-child.js';
import { describeExit, startChild, tail } from '../../scripts/lib/managed-child.js';
import { REPO_ROOT } from '../../scripts/lib/repo-root.js';

export interface ServiceSlotOptions {
  name: string;
  /** A compiled entry point (`dist/src/worker/main.js`): a restart then costs no TypeScript compile. */
  entry: string;
  readyMessage: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

export interface ServiceSlot {
  readonly name: string;
  /** Starts the process and waits until it is ready, retrying while it dies during start-up. */
  start(): Promise<void>;
  /** SIGKILL, then (unless `restart: false`) a new process after `downMs`. */
  kill9(options: { downMs: number; restart?: boolean }): Promise<void>;
  /** Graceful stop; the slot stays down. */
  stop(): Promise<void>;
  isUp(): boolean;
  /** Waits until a restart in progress is ready. */
  settled(): Promise<void>;
  readonly counts: { starts: number; kills: number; unexpectedExits: number; failedStarts: number };
  /** The logs of every process this slot ran, oldest first, each under a `--- name pid N ---` line. */
  logs(): string;
}

const READY_TIMEOUT_MS = 240_000;
const EARLIER_LOG_BYTES = 16 * 1024 * 1024;

export function createServiceSlot(options: ServiceSlotOptions): ServiceSlot {
  let current: Service | undefined;
  let up = false;
  let wanted = false;
  let starting: Promise<void> | undefined;
  // Every earlier process's log, oldest first: an unexpected answer from a process that was later
  // killed must still be explainable (the full runs of 2026-12-07 had 500s and only the last log).
  let earlier = '';
  const retire = (service: Service) => {
    earlier = `${earlier}--- ${options.name} pid ${service.pid} ---\n${service.logs()}`.slice(
      -EARLIER_LOG_BYTES,
    );
  };
  const counts = { starts: 0, kills: 0, unexpectedExits: 0, failedStarts: 0 };

  const launch = async (): Promise<void> => {
    for (let attempt = 1; wanted; attempt++) {
      const service = await startService(options);
      current = service;
      try {
        await service.waitReady(READY_TIMEOUT_MS);
      } catch (err) {
        counts.failedStarts++;
        retire(service);
        options.log(`${options.name}: start attempt ${attempt} failed: ${firstLine(err)}`);
        await service.kill9();
        current = undefined;
        await sleep(Math.min(1_000 * attempt, 5_000));
        continue;
      }
      counts.starts++;
      up = true;
      void service.exited.then((exit) => {
        if (current !== service) return;
        up = false;
        retire(service);
        current = undefined;
        if (!wanted) return;
        counts.unexpectedExits++;
        options.log(`${options.name}: exited on its own (${JSON.stringify(exit)}); starting it again`);
        restart(1_000);
      });
      return;
    }
  };

  const restart = (delayMs: number): void => {
    const run = (async () => {
      await sleep(delayMs);
      await launch();
    })();
    starting = run.finally(() => {
      if (starting === tracked) starting = undefined;
    });
    const tracked = starting;
  };

  return {
    name: options.name,
    counts,
    async start() {
      wanted = true;
      await launch();
    },
    async kill9({ downMs, restart: again = true }) {
      const victim = current;
      if (!victim || !up) return;
      counts.kills++;
      current = undefined;
      up = false;
      await victim.kill9();
      retire(victim);
      if (again && wanted) restart(downMs);
    },
    async stop() {
      wanted = false;
      await starting?.catch(() => undefined);
      const victim = current;
      current = undefined;
      up = false;
      if (victim) {
        await victim.stop({ signal: 'SIGTERM', timeoutMs: 15_000 });
        retire(victim);
      }
    },
    isUp: () => up,
    async settled() {
      while (starting) await starting.catch(() => undefined);
    },
    logs: () => `${earlier}${current ? `--- ${options.name} pid ${current.pid} ---\n${current.logs()}` : ''}`,
  };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

interface Service extends ManagedChild {
  waitReady(timeoutMs: number): Promise<void>;
}

/** `node <entry>` with the given environment, ready once it logs its ready line (pino JSON). */
async function startService(options: ServiceSlotOptions): Promise<Service> {
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolveReady) => {
    markReady = resolveReady;
  });
  const child = await startChild({
    name: options.name,
    command: process.execPath,
    args: [options.entry],
    cwd: REPO_ROOT,
    env: options.env,
    maxLogBytes: 2 * 1024 * 1024,
    onLine(line, stream) {
      if (stream === 'stdout' && line.includes(`"msg":"${options.readyMessage}"`)) markReady();
    },
  });
  return Object.assign(child, {
    async waitReady(timeoutMs: number) {
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        ready.then(() => 'ready' as const),
        child.exited,
        new Promise<'timeout'>((resolveTimeout) => {
          timer = setTimeout(() => resolveTimeout('timeout'), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      if (outcome === 'ready') return;
      const why =
        outcome === 'timeout' ? `not ready within ${timeoutMs} ms` : describeExit(outcome as ChildExit);
      throw new Error(`${options.name} (pid ${child.pid}) ${why}; last output:\n${tail(child.logs())}`);
    },
  });
}
