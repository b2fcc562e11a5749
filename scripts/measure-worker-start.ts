// How long a worker takes from its process start until it first polls its workflow task queue:
// run from the TypeScript sources (tsx, bundling the workflow code at start-up: what `npm run
// worker` and the Dockerfile before 0.2.0 ran) against the build (`node dist/src/worker/main.js`,
// loading the bundle `npm run build` made). The runs alternate on one dev server, in one run, next
// to a bare `node -e 0` as the machine's baseline. The first poll is the first time the server
// lists the process (identity `<pid>@<hostname>`) among the queue's pollers.
//   npm run build && flock /tmp/snapkeeper-heavy.lock npx tsx scripts/measure-worker-start.ts [RUNS]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { WORKFLOW_TASK_QUEUE } from '../src/contract/names.js';
import { describePollers } from '../src/service/task-queue-pollers.js';
import { ensureTemporal } from './lib/ensure-temporal.js';
import { repoPath } from './lib/repo-root.js';
import { startDevServer } from './lib/temporal-dev-server.js';

const RUNS = Number(process.argv[2] ?? 5);
const TIMEOUT_MS = 180_000;
const MODES = {
  source: ['--import', 'tsx', 'src/worker/main.ts'],
  build: ['dist/src/worker/main.js'],
} as const;
type Mode = keyof typeof MODES;

for (const file of ['dist/src/worker/main.js', 'dist/workflow-bundle.js']) {
  if (!existsSync(repoPath(file))) throw new Error(`${file} is missing: run npm run build first`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

async function bareNode(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return performance.now() - started;
}

async function workerStart(client: Client, address: string, mode: Mode): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [...MODES[mode]], {
    cwd: repoPath(),
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: 'default',
      // The workflow worker is the one that bundles; the Docker worker would need an engine.
      SNAPKEEPER_WORKER_ROLES: 'workflow',
      SNAPKEEPER_HOST_ID: 'measure-start',
      SNAPKEEPER_WORKER_METRICS_PORT: '0',
      SNAPKEEPER_LOG_LEVEL: 'warn',
    },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const identity = `${child.pid}@${hostname()}`;
  try {
    for (;;) {
      const pollers = await describePollers(client, WORKFLOW_TASK_QUEUE, 'workflow');
      if (pollers.some((p) => p.identity === identity)) return performance.now() - started;
      if (child.exitCode !== null) throw new Error(`worker (${mode}) exited early:\n${stderr}`);
      if (performance.now() - started > TIMEOUT_MS) throw new Error(`worker (${mode}) never polled`);
      await sleep(20);
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const { temporalCliPath } = await ensureTemporal();
const dir = await mkdtemp(join(tmpdir(), 'snapkeeper-start-'));
const server = await startDevServer({
  cliPath: temporalCliPath,
  dbFile: join(dir, 'dev.db'),
  headless: true,
});
const connection = await Connection.connect({ address: server.address });
const client = new Client({ connection, namespace: 'default' });
const samples: Record<Mode | 'node', number[]> = { source: [], build: [], node: [] };
try {
  // One unmeasured start of each warms the file cache, as a machine that ran them before would be.
  for (const mode of ['source', 'build'] as const) await workerStart(client, server.address, mode);
  for (let i = 0; i < RUNS; i++) {
    // Alternating, so a change of load on the machine reaches both sides alike.
    for (const mode of i % 2 ? (['build', 'source'] as const) : (['source', 'build'] as const)) {
      const ms = await workerStart(client, server.address, mode);
      samples[mode].push(ms);
      process.stderr.write(`run ${i + 1} ${mode}: ${ms.toFixed(0)} ms\n`);
    }
    samples.node.push(await bareNode());
  }
} finally {
  await connection.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
const result = {
  runs: RUNS,
  medianMs: {
    source: Math.round(median(samples.source)),
    build: Math.round(median(samples.build)),
    bareNode: Math.round(median(samples.node)),
  },
  ratio: +(median(samples.source) / median(samples.build)).toFixed(1),
  // Each run's two starts ran back to back: their ratio is the steadier figure on a loaded machine.
  medianPairRatio: +median(samples.source.map((ms, i) => ms / (samples.build[i] as number))).toFixed(1),
  samplesMs: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map((x) => Math.round(x))])),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
