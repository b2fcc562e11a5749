// Breaks the running system while lifecycles go on: workers killed with SIGKILL every few seconds
// and started again; at planned points of the run, a Docker engine restarted, the Temporal
// server restarted, and the API killed and started again; all along, network faults on the links
// between the processes and what they call (latency, dropped connections, partitions), and a
// host's disk filled to the last block for a while, then freed.
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
  /** One network fault at a time, on a random link, with a pause between two. */
  network?: {
    gapMs: [number, number];
    /** How long a latency window or a partition lasts. */
    faultMs: [number, number];
    latencyMs: [number, number];
  };
  /** The small disks: full for `fullMs`, then free for `gapMs`. */
  disk?: { gapMs: [number, number]; fullMs: [number, number] };
}

export const NETWORK_FAULTS = ['latency', 'drop', 'partition-reset', 'partition-blackhole'] as const;
export type NetworkFault = (typeof NETWORK_FAULTS)[number];

export interface DisruptionCounts {
  workerKills: number;
  engineRestarts: number;
  serverRestarts: number;
  apiKills: number;
  network: Record<NetworkFault, number>;
  /** Network faults per link. */
  networkByLink: Record<string, number>;
  /** Connections the proxies reset (drops, partitions) or refused (reset partitions). */
  connectionsReset: number;
  diskFills: number;
  diskFullSeconds: number;
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
    network: { latency: 0, drop: 0, 'partition-reset': 0, 'partition-blackhole': 0 },
    networkByLink: {},
    connectionsReset: 0,
    diskFills: 0,
    diskFullSeconds: 0,
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
  const networkPrng = prng.fork();
  const diskPrng = prng.fork();
  // A host's engine restart and its disk fill take turns: an engine that cannot start on a full
  // disk would measure the harness, not snapkeeper (snapkeeper's part is the same either way).
  const hostTurns = new Map<number, Promise<void>>();
  const onHost = async (h: number, fn: () => Promise<void>) => {
    const before = hostTurns.get(h) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    hostTurns.set(
      h,
      mine.catch(() => undefined),
    );
    await mine;
  };

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

  let wake: () => void = () => undefined;
  const stoppedSignal = new Promise<void>((resolveStopped) => {
    wake = resolveStopped;
  });
  const untilStopped = () => stoppedSignal;
  const sleepUnlessStopped = (ms: number) => Promise.race([sleep(Math.max(0, ms)), stoppedSignal]);

  async function killWorkers(): Promise<void> {
    while (!stopped) {
      await sleepUnlessStopped(killPrng.int(...plan.workerKillGapMs));
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
        await guarded(`engine ${host.id}`, () =>
          onHost(event.host ?? 0, async () => {
            await host.restart();
            counts.engineRestarts++;
          }),
        );
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

  async function networkFaults(): Promise<void> {
    const net = plan.network;
    if (!net || system.links.length === 0) return;
    while (!stopped) {
      await sleepUnlessStopped(networkPrng.int(...net.gapMs));
      if (stopped) break;
      const link = networkPrng.pick(system.links);
      const fault = networkPrng.pick(NETWORK_FAULTS);
      const ms = networkPrng.int(...net.faultMs);
      counts.network[fault]++;
      counts.networkByLink[link.name] = (counts.networkByLink[link.name] ?? 0) + 1;
      const before = link.proxy.stats.resets + link.proxy.stats.refused;
      if (fault === 'latency') {
        const latency = networkPrng.int(...net.latencyMs);
        log(`network: ${link.name} latency ${latency} ms for ${ms} ms`);
        link.proxy.setLatency(latency, latency / 2);
        await sleepUnlessStopped(ms);
        link.proxy.setLatency(0);
      } else if (fault === 'drop') {
        log(`network: ${link.name} connections reset`);
        link.proxy.dropConnections();
      } else {
        const mode = fault === 'partition-reset' ? 'reset' : 'blackhole';
        log(`network: ${link.name} partitioned (${mode}) for ${ms} ms`);
        const healed = link.proxy.partition(ms, mode);
        await Promise.race([healed, untilStopped()]);
        link.proxy.heal();
      }
      counts.connectionsReset += link.proxy.stats.resets + link.proxy.stats.refused - before;
    }
  }

  async function diskFills(): Promise<void> {
    const disk = plan.disk;
    const hosts = system.hosts.flatMap((h, i) => (h.disk ? [{ h, i, d: h.disk }] : []));
    if (!disk || hosts.length === 0) return;
    while (!stopped) {
      await sleepUnlessStopped(diskPrng.int(...disk.gapMs));
      if (stopped) break;
      const { h, i, d } = diskPrng.pick(hosts);
      const ms = diskPrng.int(...disk.fullMs);
      await guarded(`disk of ${h.id}`, () =>
        onHost(i, async () => {
          const filled = await d.fill();
          counts.diskFills++;
          log(`disk of ${h.id} full (${(filled / 2 ** 20).toFixed(0)} MiB of filler) for ${ms} ms`);
          const started = Date.now();
          // Removals free room while it is full: it is topped up again, so it stays full.
          while (!stopped && Date.now() - started < ms) {
            await sleepUnlessStopped(Math.min(1_000, ms - (Date.now() - started)));
            await d.fill();
          }
          await d.free();
          counts.diskFullSeconds += Math.round((Date.now() - started) / 1000);
          log(`disk of ${h.id} freed (${(await d.usedPercent()).toFixed(0)} % used)`);
        }),
      );
    }
  }

  return {
    counts,
    planned,
    start(progress) {
      events = plannedEvents(progress);
      loops.push(killWorkers(), events, networkFaults(), diskFills());
    },
    eventsDone: () => events,
    async stop() {
      stopped = true;
      wake();
      await Promise.all(loops);
      // Whatever a fault left behind is undone before the settle and the audit.
      for (const l of system.links) l.proxy.heal();
      for (const h of system.hosts) await h.disk?.free();
      await Promise.all([...system.workers, system.api].map((s) => s.settled()));
    },
  };
}
