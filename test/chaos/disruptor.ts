// Breaks the running system while lifecycles go on: workers killed with SIGKILL every few seconds
// and started again, and, at planned points of the run, a Docker engine restarted, the Temporal
// dev server restarted from its SQLite file, and the API killed and started again.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChaosSystem } from './chaos-system.js';
import type { Prng } from './prng.js';

export interface DisruptionPlan {
  /** Pause between two worker kills, in ms. */
  workerKillGapMs: [number, number];
  /** How long a killed worker stays down before it is started again, in ms. */
  workerDownMs: [number, number];
  engineRestartsPerHost: number;
  serverRestarts: number;
  apiKills: number;
}

export interface DisruptionCounts {
  workerKills: number;
  engineRestarts: number;
  serverRestarts: number;
  apiKills: number;
  failures: string[];
}

type Planned = { at: number; what: 'engine' | 'server' | 'api'; host?: number };

export interface Disruptor {
  readonly counts: DisruptionCounts;
  readonly planned: Planned[];
  /** Runs until stop(); `progress` says how far the lifecycles are, 0 to 1. */
  start(progress: () => number): void;
  /** Resolves once every planned event has happened. */
  eventsDone(): Promise<void>;
  stop(): Promise<void>;
}

export function createDisruptor(
  system: ChaosSystem,
  plan: DisruptionPlan,
  prng: Prng,
  log: (line: string) => void,
): Disruptor {
  const counts: DisruptionCounts = {
    workerKills: 0,
    engineRestarts: 0,
    serverRestarts: 0,
    apiKills: 0,
    failures: [],
  };
  const planned: Planned[] = [];
  // Spread over the middle of the run, so lifecycles are in flight on both sides of each event.
  const at = () => 0.1 + prng.next() * 0.75;
  for (let h = 0; h < system.hosts.length; h++)
    for (let i = 0; i < plan.engineRestartsPerHost; i++) planned.push({ at: at(), what: 'engine', host: h });
  for (let i = 0; i < plan.serverRestarts; i++) planned.push({ at: at(), what: 'server' });
  for (let i = 0; i < plan.apiKills; i++) planned.push({ at: at(), what: 'api' });
  planned.sort((a, b) => a.at - b.at);
  const killPrng = prng.fork();
  const eventPrng = prng.fork();

  let stopped = false;
  const loops: Promise<void>[] = [];
  let events: Promise<void> = Promise.resolve();

  const guarded = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      counts.failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      log(`disruption ${what} failed: ${String(err)}`);
    }
  };

  async function killWorkers(): Promise<void> {
    while (!stopped) {
      await sleep(killPrng.int(...plan.workerKillGapMs));
      if (stopped) break;
      const victim = killPrng.pick(system.workers);
      const downMs = killPrng.int(...plan.workerDownMs);
      // One worker down at a time: on a loaded machine a restart (a workflow worker bundles its
      // workflows) can take longer than the gap, and with every worker down the run would
      // measure start-up time instead of recovery.
      if (!system.workers.every((w) => w.isUp())) continue;
      counts.workerKills++;
      log(`SIGKILL ${victim.name} (down ${downMs} ms)`);
      await guarded(`kill ${victim.name}`, () => victim.kill9({ downMs }));
    }
  }

  async function plannedEvents(progress: () => number): Promise<void> {
    for (const event of planned) {
      while (!stopped && progress() < event.at) await sleep(500);
      if (stopped) return;
      if (event.what === 'engine') {
        const host = system.hosts[event.host ?? 0];
        if (!host) continue;
        log(`restarting the Docker engine of ${host.id}`);
        await guarded(`engine ${host.id}`, async () => {
          await host.restart();
          counts.engineRestarts++;
        });
      } else if (event.what === 'server') {
        // The dev server's SQLite file is not crash-safe storage; PostgreSQL is, so the cluster's
        // first restart is a crash.
        const crash = system.server.kind === 'cluster' && counts.serverRestarts % 2 === 0;
        log(
          system.server.kind === 'cluster'
            ? `restarting the Temporal server on PostgreSQL (${crash ? 'SIGKILL' : 'SIGTERM'})`
            : 'restarting the Temporal dev server from its SQLite file',
        );
        await guarded('temporal server', async () => {
          await system.server.restart(crash ? { signal: 'SIGKILL' } : {});
          counts.serverRestarts++;
        });
      } else {
        const downMs = eventPrng.int(1_000, 4_000);
        log(`SIGKILL api (down ${downMs} ms)`);
        await guarded('api', async () => {
          await system.api.kill9({ downMs });
          counts.apiKills++;
        });
      }
    }
  }

  return {
    counts,
    planned,
    start(progress) {
      events = plannedEvents(progress);
      loops.push(killWorkers(), events);
    },
    eventsDone: () => events,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      await Promise.all([...system.workers, system.api].map((s) => s.settled()));
    },
  };
}
