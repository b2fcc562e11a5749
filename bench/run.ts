// `npm run bench -- [--quick] [--only B1,B3] [--temporal dev|cluster] [--out path.json]`:
// snapkeeper's benchmarks B1–B6, B7 (the Temporal cost of a lifecycle) and B8 (the CLI's answer time) (docs/benchmarks.md), each figure beside a fair baseline measured in
// the same run, against a private Docker engine and a Temporal server this script starts itself.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoPath } from '../scripts/lib/repo-root.js';
import { createDockerode } from '../src/docker/dockerode-adapter.js';
import type { BenchContext } from './bench-context.js';
import { startBenchEnvironment } from './bench-environment.js';
import { parseBenchOptions } from './cli-options.js';
import { watchImageEvents } from './docker-events.js';
import { machineInfo } from './machine-info.js';
import { markdownTable, notesOf } from './report.js';
import type { BenchFailure, BenchId, BenchResult } from './result-types.js';
import { startSnapkeeperStack } from './snapkeeper-stack.js';
import { runB1 } from './b1-merge-to-gone.js';
import { runB2 } from './b2-ttl-expiry.js';
import { runB3 } from './b3-register-throughput.js';
import { runB4 } from './b4-webhook-throughput.js';
import { runB5 } from './b5-many-workflows.js';
import { runB6 } from './b6-reconcile.js';
import { runB7 } from './b7-cost.js';
import { runB8 } from './b8-cli.js';

const BENCHMARKS: Record<BenchId, (ctx: BenchContext) => Promise<BenchResult>> = {
  B1: runB1,
  B2: runB2,
  B3: runB3,
  B4: runB4,
  B5: runB5,
  B6: runB6,
  B7: runB7,
  B8: runB8,
};

async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2));
  const started = new Date();
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const progress = (message: string) =>
    console.log(`[${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)}s] ${message}`);
  const dir = await mkdtemp(join(tmpdir(), 'snapkeeper-bench-'));
  // PostgreSQL of the cluster runs as its own user and must reach its data directory in here.
  if (options.temporal === 'cluster') await chmod(dir, 0o711);
  progress(`starting a private Docker engine and the Temporal ${options.temporal} server in ${dir}`);
  const environment = await startBenchEnvironment(dir, options.temporal);
  const docker = createDockerode(environment.dockerHost);
  const results: BenchResult[] = [];
  const failures: BenchFailure[] = [];
  let meta: Record<string, unknown> = {};
  const out =
    options.out ??
    repoPath(
      'bench',
      'results',
      `${started.toISOString().slice(0, 16).replace(':', '')}-${options.temporal}-${options.size}.json`,
    );
  // Written after every benchmark too: a run stopped in a later one keeps the figures before it.
  const save = async () => {
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify({ meta, results, failures }, null, 2)}\n`);
  };
  try {
    const events = await watchImageEvents(docker);
    const stack = await startSnapkeeperStack(environment, { hostId: 'bench' });
    try {
      meta = {
        date: started.toISOString(),
        command,
        label: options.label ?? null,
        size: options.size,
        temporal: options.temporal,
        machine: await machineInfo(stack.client, docker),
        server: environment.server,
        worker:
          'src/worker/main.ts in its own process (roles workflow,docker, host "bench"), default worker options',
        api: 'createApiServer in the bench process, on a loopback port; requests with fetch (undici)',
      };
      const ctx: BenchContext = {
        options,
        environment,
        docker,
        events,
        stack,
        run: randomBytes(3).toString('hex'),
        dir,
        progress,
      };
      for (const id of options.only) {
        progress(`${id}: start`);
        try {
          const result = await BENCHMARKS[id](ctx);
          results.push(result);
          progress(`${id}: done\n${markdownTable([result], [])}`);
        } catch (err) {
          const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
          failures.push({ id, error });
          progress(`${id}: FAILED: ${error}`);
        }
        await save();
      }
    } finally {
      events.close();
      await stack.stop();
    }
  } finally {
    await environment.stop();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }

  await save();
  console.log(`\n## snapkeeper bench (${options.size}, Temporal ${options.temporal}) — ${command}\n`);
  console.log(markdownTable(results, failures));
  console.log(`\n${notesOf(results)}\n\nJSON: ${out}`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
