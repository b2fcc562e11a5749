// One snapkeeper process (a worker or the API) that the chaos run keeps alive: it can be killed
// with SIGKILL at any moment, and it is started again; a process that dies on its own (e.g. it
// could not reach the Temporal server while that restarts) is restarted too, and counted.
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeService } from '../../scripts/lib/node-service.js';
import { startNodeService } from '../../scripts/lib/node-service.js';

export interface ServiceSlotOptions {
  name: string;
  entry: 'src/worker/main.ts' | 'src/api/main.ts';
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
  logs(): string;
}

const READY_TIMEOUT_MS = 240_000;

export function createServiceSlot(options: ServiceSlotOptions): ServiceSlot {
  let current: NodeService | undefined;
  let up = false;
  let wanted = false;
  let starting: Promise<void> | undefined;
  let lastLogs = '';
  const counts = { starts: 0, kills: 0, unexpectedExits: 0, failedStarts: 0 };

  const launch = async (): Promise<void> => {
    for (let attempt = 1; wanted; attempt++) {
      const service = await startNodeService({
        name: options.name,
        entry: options.entry,
        env: options.env,
        readyMessage: options.readyMessage,
      });
      current = service;
      try {
        await service.waitReady(READY_TIMEOUT_MS);
      } catch (err) {
        counts.failedStarts++;
        lastLogs = service.logs();
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
        lastLogs = service.logs();
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
      lastLogs = victim.logs();
      if (again && wanted) restart(downMs);
    },
    async stop() {
      wanted = false;
      await starting?.catch(() => undefined);
      const victim = current;
      current = undefined;
      up = false;
      if (victim) {
        lastLogs = victim.logs();
        await victim.stop('SIGTERM', 15_000);
      }
    },
    isUp: () => up,
    async settled() {
      while (starting) await starting.catch(() => undefined);
    },
    logs: () => current?.logs() ?? lastLogs,
  };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
