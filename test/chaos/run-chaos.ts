// A whole chaos run: start the real system, run many snapshot lifecycles while breaking things,
// settle, reconcile once, audit, drain, and report. Deterministic in its plan for a given seed.
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { REPO_ROOT, repoPath } from '../../scripts/lib/repo-root.js';
import { runScript } from '../../scripts/lib/run-script.js';
import { audit, drain, reconcileOnce, removeAllContainers, settle } from './audit.js';
import { createChaosHttp } from './chaos-http.js';
import { startChaosSystem } from './chaos-system.js';
import type { DisruptionPlan } from './disruptor.js';
import { createDisruptor } from './disruptor.js';
import type { TemporalKind } from '../support/provided-context.js';
import type { LifecycleKind } from './ledger.js';
import { LIFECYCLE_KINDS, createLedger } from './ledger.js';
import { runLifecycle } from './lifecycles.js';
import { createPrng } from './prng.js';

export type ChaosSize = 'reduced' | 'full';

interface SizeSettings {
  lifecycles: number;
  concurrency: number;
  hosts: number;
  workflowWorkers: number;
  plan: DisruptionPlan;
  /** Hosts (by index) whose engine's data root is a small tmpfs the disruptor fills. */
  smallDisks: { hosts: number[]; sizeMiB: number };
  settleMs: number;
  drainMs: number;
}

// Network faults: one at a time on a random link (a worker or the API to the Temporal frontend, a
// Docker worker to its engine): latency, all connections reset, or the link cut for seconds.
const NETWORK = { faultMs: [2_000, 10_000], latencyMs: [50, 500] } as const;

export const SIZES: Record<ChaosSize, SizeSettings> = {
  // Sized for CI: about 7 minutes on the 2-core machine, every kind of lifecycle and disruption.
  reduced: {
    lifecycles: 40,
    concurrency: 8,
    hosts: 2,
    workflowWorkers: 2,
    plan: {
      workerKillGapMs: [6_000, 12_000],
      workerDownMs: [500, 3_000],
      engineRestartsPerHost: 1,
      serverRestarts: 1,
      apiKills: 1,
      network: { gapMs: [3_000, 8_000], faultMs: [2_000, 8_000], latencyMs: [...NETWORK.latencyMs] },
      disk: { gapMs: [15_000, 40_000], fullMs: [5_000, 15_000] },
    },
    smallDisks: { hosts: [1], sizeMiB: 256 },
    settleMs: 180_000,
    drainMs: 120_000,
  },
  full: {
    lifecycles: 1_000,
    concurrency: 14,
    hosts: 2,
    workflowWorkers: 2,
    plan: {
      workerKillGapMs: [4_000, 9_000],
      workerDownMs: [500, 3_000],
      engineRestartsPerHost: 3,
      serverRestarts: 3,
      apiKills: 5,
      network: { gapMs: [2_000, 6_000], faultMs: [...NETWORK.faultMs], latencyMs: [...NETWORK.latencyMs] },
      disk: { gapMs: [20_000, 60_000], fullMs: [5_000, 20_000] },
    },
    smallDisks: { hosts: [1], sizeMiB: 256 },
    settleMs: 420_000,
    drainMs: 360_000,
  },
};

export interface ChaosOptions {
  size: ChaosSize;
  seed: number;
  /** `dev` (default): the dev server on SQLite; `cluster`: the server on PostgreSQL. */
  temporal?: TemporalKind;
  /** Overrides the size's lifecycle count (quick local tries). */
  lifecycles?: number;
  reportFile?: string;
  keepWorkDir?: boolean;
  foreignTagChance?: number;
  /** Leave out the network faults and the full disk (the crash-only run of earlier releases). */
  noNetworkFaults?: boolean;
  noFullDisk?: boolean;
}

export interface ChaosReport {
  seed: number;
  size: ChaosSize;
  temporal: TemporalKind;
  durationSeconds: number;
  lifecycles: { total: number; failed: number; byKind: Record<string, number> };
  registrations: { tried: number; acknowledged: number; answers: Record<string, number> };
  disruptions: Record<string, number>;
  /** Network faults per link (`<process>→temporal`, `docker-worker-<host>→engine`). */
  networkByLink: Record<string, number>;
  processes: Record<string, { starts: number; kills: number; unexpectedExits: number; failedStarts: number }>;
  http: {
    byStatus: Record<string, number>;
    networkErrors: number;
    unexpected5xx: number;
    /** Calls that took over 15 s to answer (retries included), slowest first. */
    slowCalls: { seconds: number; call: string }[];
  };
  webhooks: { deliveries: number; duplicates: number };
  holdersStarted: number;
  timings: { lifecyclesSeconds: number; settleSeconds: number };
  audit: Record<string, unknown>;
  violations: string[];
  anomalies: string[];
}

// Inside the checkout, so the compiled entry points find node_modules; .data/ is ignored by git.
const DIST_DIR = join(REPO_ROOT, '.data', 'chaos-dist');
// `npm run build`'s output (CI builds it first): when it is newer than every source file it is the
// same compiled code, and its prebuilt workflow bundle spares every workflow worker start (and
// restart) a webpack run, as in production.
const BUILD_DIR = join(REPO_ROOT, 'dist');

/**
 * The processes under test run compiled JavaScript (`node dist/src/worker/main.js`, as in
 * production): on a loaded 2-core machine a TypeScript compile at every one of hundreds of
 * restarts would dominate the run.
 */
async function compileProject(outDir: string): Promise<void> {
  if (await upToDate(outDir)) return;
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.json', '--outDir', outDir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolveCode) => child.once('close', resolveCode));
  // The run executes src/ only: type errors elsewhere (a test being written beside the run) are
  // reported but do not stop it; tsc still emits every file.
  const inSrc = output.split('\n').filter((l) => l.startsWith('src/'));
  if (
    code !== 0 &&
    (inSrc.length > 0 || !(await stat(join(outDir, 'src', 'worker', 'main.js')).catch(() => null)))
  )
    throw new Error(`tsc failed (${code}):\n${output.slice(-2000)}`);
  if (code !== 0)
    process.stderr.write(`[chaos] tsc found errors outside src/ (ignored):\n${output.slice(-1000)}\n`);
}

/** The compiled worker is newer than every source file under src/. */
async function upToDate(outDir: string): Promise<boolean> {
  const built = await stat(join(outDir, 'src', 'worker', 'main.js')).catch(() => undefined);
  if (!built) return false;
  const sources = await readdir(join(REPO_ROOT, 'src'), { recursive: true });
  for (const file of sources) {
    const s = await stat(join(REPO_ROOT, 'src', file));
    if (s.mtimeMs > built.mtimeMs) return false;
  }
  return true;
}

/** The plan of kinds: every kind at least once (shuffled), then random picks. */
function planKinds(total: number, next: () => number): LifecycleKind[] {
  const first = [...LIFECYCLE_KINDS].sort(() => next() - 0.5);
  const kinds: LifecycleKind[] = first.slice(0, total);
  while (kinds.length < total)
    kinds.push(LIFECYCLE_KINDS[Math.floor(next() * LIFECYCLE_KINDS.length)] as LifecycleKind);
  return kinds;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const settings = SIZES[options.size];
  const total = options.lifecycles ?? settings.lifecycles;
  const prng = createPrng(options.seed);
  const log = (line: string) =>
    process.stderr.write(`[chaos +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
  const temporal = options.temporal ?? 'dev';
  log(
    `seed ${options.seed}, size ${options.size}, ${total} lifecycles over ${settings.hosts} hosts, Temporal ${temporal}`,
  );

  const workDir = await mkdtemp(join(tmpdir(), 'snapkeeper-chaos-'));
  // PostgreSQL runs as its own user when this is root, and must pass through the work directory.
  if (temporal === 'cluster' && process.getuid?.() === 0) await chmod(workDir, 0o711);
  // The CLI only; the cluster's server and SQL tool are found (or built) when the cluster starts.
  const distDir = (await upToDate(BUILD_DIR)) ? BUILD_DIR : DIST_DIR;
  const [cliOutput] = await Promise.all([
    runScript(repoPath('scripts', 'ensure-temporal.sh'), ['temporal'], { passStderr: true }),
    distDir === BUILD_DIR
      ? log(`the build in ${BUILD_DIR} is up to date: running it`)
      : compileProject(DIST_DIR).then(() => log(`compiled into ${DIST_DIR}`)),
  ]);
  const temporalCliPath = cliOutput.split('\n').pop()?.trim();
  if (!temporalCliPath) throw new Error('ensure-temporal.sh printed no temporal binary');
  // tmpfs needs root; without it the run says so and goes on without the full disk.
  const fullDisk = !options.noFullDisk && process.getuid?.() === 0;
  if (!options.noFullDisk && !fullDisk) log('not root: no small disk to fill (mount needs root)');
  const system = await startChaosSystem({
    workDir,
    temporalCliPath,
    temporal,
    hostCount: settings.hosts,
    workflowWorkers: settings.workflowWorkers,
    ...(fullDisk ? { smallDisks: settings.smallDisks } : {}),
    distDir,
    log,
  });
  const ledger = createLedger();
  for (const h of system.hosts) if (h.disk) ledger.fullDiskHosts.add(h.id);
  const http = createChaosHttp(system.apiUrl, system.token);
  const { network, disk, ...crashes } = settings.plan;
  const plan: DisruptionPlan = {
    ...crashes,
    ...(network && !options.noNetworkFaults ? { network } : {}),
    ...(disk && fullDisk ? { disk } : {}),
  };
  const disruptor = createDisruptor(system, plan, prng.fork(), log);
  const violations: string[] = [];
  const auditFacts: Record<string, unknown> = {};
  let lifecyclesSeconds = 0;
  let settleSeconds = 0;
  try {
    log(`system up in ${((Date.now() - started) / 1000).toFixed(0)} s; work dir ${workDir}`);
    const kinds = planKinds(total, prng.next);
    const streams = kinds.map(() => prng.fork());
    const staggers = kinds.map(() => prng.int(0, 1_500));
    let next = 0;
    let startedCount = 0;
    disruptor.start(() => startedCount / total);
    const phaseStart = Date.now();
    const pool = async () => {
      while (next < total) {
        const n = next++;
        await sleep(staggers[n] ?? 0);
        startedCount++;
        await runLifecycle(
          { system, http, ledger, log, foreignTagChance: options.foreignTagChance ?? 0.08 },
          streams[n] ?? prng,
          n,
          kinds[n] ?? 'ttl',
        );
        const done = ledger.lifecycles.filter((l) => l.done || l.error).length;
        if (done % 10 === 0) log(`${done}/${total} lifecycles finished`);
      }
    };
    await Promise.all(Array.from({ length: settings.concurrency }, pool));
    await disruptor.eventsDone();
    await disruptor.stop();
    lifecyclesSeconds = (Date.now() - phaseStart) / 1000;
    log(`lifecycles done in ${lifecyclesSeconds.toFixed(0)} s; settling`);
    // What stretched the run: its longest lifecycles, and the API calls slow to answer.
    const longest = [...ledger.lifecycles].sort((a, b) => (b.seconds ?? 0) - (a.seconds ?? 0)).slice(0, 5);
    log(`longest lifecycles: ${longest.map((l) => `${l.n} (${l.kind}) ${l.seconds ?? '?'} s`).join(', ')}`);
    for (const slow of http.stats.slow.slice(0, 5)) log(`slow call (${slow.seconds} s): ${slow.call}`);

    const leftover = await removeAllContainers(system.hosts);
    if (leftover > 0) log(`removed ${leftover} containers left behind by lifecycles`);
    settleSeconds = (await settle(system, ledger, settings.settleMs)) / 1000;
    log(`settled in ${settleSeconds.toFixed(0)} s; reconciling once after the grace period`);
    const reconcile = await reconcileOnce(system, ledger);
    for (const r of reconcile.reports)
      for (const w of r.repaired ?? []) log(`reconcile reset wedged ${w.workflowId}: ${w.reason}`);
    // Workflows told that their image vanished end now; give them a moment.
    await settle(system, ledger, 30_000);
    const result = await audit(system, ledger, reconcile);
    Object.assign(auditFacts, result.facts);
    violations.push(...result.violations);
    log(`audit: ${result.violations.length} violations; draining every open snapshot`);
    violations.push(...(await drain(system, ledger, settings.drainMs)));
    for (const f of disruptor.counts.failures) violations.push(`disruption failed: ${f}`);
  } finally {
    await disruptor.stop().catch(() => undefined);
    // An unexpected 5xx is an anomaly, not a violation, but its cause is in the API's log.
    const keep = violations.length > 0 || options.keepWorkDir || http.stats.unexpected.length > 0;
    if (keep) {
      for (const slot of [...system.workers, system.api])
        await writeFile(join(workDir, `${slot.name}.log`), slot.logs()).catch(() => undefined);
      await writeFile(join(workDir, 'temporal.log'), system.server.logs()).catch(() => undefined);
    }
    await system.stop();
    if (!keep) {
      // A stopped engine's mounts under its data root go a moment after its process: EBUSY then.
      await rm(workDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 1_000 }).catch(
        (err: unknown) => log(`work dir ${workDir} not removed: ${String(err)}`),
      );
    } else log(`work dir kept: ${workDir}`);
  }

  const count = <T extends string>(items: T[]) =>
    items.reduce<Record<string, number>>((acc, k) => ((acc[k] = (acc[k] ?? 0) + 1), acc), {});
  const report: ChaosReport = {
    seed: options.seed,
    size: options.size,
    temporal,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    lifecycles: {
      total: ledger.lifecycles.length,
      failed: ledger.lifecycles.filter((l) => l.error).length,
      byKind: count(ledger.lifecycles.map((l) => l.kind)),
    },
    registrations: {
      tried: ledger.registrations.length,
      acknowledged: ledger.registrations.filter((r) => r.acknowledged).length,
      answers: count(ledger.registrations.map((r) => r.answers[r.answers.length - 1] ?? 'none')),
    },
    disruptions: {
      workerKills: disruptor.counts.workerKills,
      engineRestarts: disruptor.counts.engineRestarts,
      serverRestarts: disruptor.counts.serverRestarts,
      apiKills: disruptor.counts.apiKills,
      ...Object.fromEntries(Object.entries(disruptor.counts.network).map(([k, v]) => [`network-${k}`, v])),
      connectionsReset: disruptor.counts.connectionsReset,
      diskFills: disruptor.counts.diskFills,
      diskFullSeconds: disruptor.counts.diskFullSeconds,
      noSpaceErrors: ledger.noSpaceErrors,
    },
    networkByLink: { ...disruptor.counts.networkByLink },
    processes: Object.fromEntries([...system.workers, system.api].map((s) => [s.name, { ...s.counts }])),
    http: {
      byStatus: Object.fromEntries([...http.stats.byStatus.entries()].sort(([a], [b]) => a - b)),
      networkErrors: http.stats.networkErrors,
      unexpected5xx: http.stats.unexpected.length,
      slowCalls: [...http.stats.slow].sort((a, b) => b.seconds - a.seconds),
    },
    webhooks: { deliveries: ledger.webhookDeliveries, duplicates: ledger.duplicateDeliveries },
    holdersStarted: ledger.holdersStarted,
    timings: { lifecyclesSeconds: Math.round(lifecyclesSeconds), settleSeconds: Math.round(settleSeconds) },
    audit: auditFacts,
    violations,
    anomalies: [
      ...http.stats.unexpected,
      ...ledger.lifecycles
        .filter((l) => l.error)
        .map((l) => `lifecycle ${l.n} (${l.kind}) failed: ${l.error}`),
      ...ledger.anomalies,
    ],
  };
  if (options.reportFile) await writeFile(options.reportFile, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
