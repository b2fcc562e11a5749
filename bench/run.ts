// `npm run bench`: what snapkeeper costs on top of the raw operations it wraps, measured in one
// process against a private Docker engine and a Temporal dev server it starts itself. Machines are
// shared and noisy, so it reports medians and ratios to baselines run alongside, not absolutes.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type Dockerode from 'dockerode';
import { commitSnapshot } from '../src/client/commit-snapshot.js';
import { loadConfig } from '../src/config/config.js';
import { createDockerPort, createDockerode } from '../src/docker/dockerode-adapter.js';
import { createLogger } from '../src/logging/logger.js';
import { createSnapshotService } from '../src/service/snapshot-service.js';
import { createWorkers } from '../src/worker/create-workers.js';
import { snapshotWorkflowId } from '../src/contract/names.js';
import { stateQuery } from '../src/contract/messages.js';
import { ensureBaseImage } from '../scripts/lib/base-image.js';
import { startDockerEngine } from '../scripts/lib/docker-engine.js';
import { ensureTemporal } from '../scripts/lib/ensure-temporal.js';
import { startDevServer } from '../scripts/lib/temporal-dev-server.js';

const N = Number(process.env.BENCH_ITERATIONS ?? 20);
const HOST = 'bench';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = process.hrtime.bigint();
  const value = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, value];
}

async function makeImage(docker: Dockerode, base: string, projectId: string, workItemId: string) {
  const container = await docker.createContainer({
    Image: base,
    Cmd: ['sh', '-c', `echo ${randomBytes(8).toString('hex')} > /marker`],
    HostConfig: { NetworkMode: 'none' },
  });
  await container.start();
  await container.wait();
  const snap = await commitSnapshot(docker, {
    containerId: container.id,
    projectId,
    workItemId,
    pause: false,
  });
  await container.remove({ force: true });
  return snap;
}

async function untilGone(docker: Dockerode, imageId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await docker.getImage(imageId).inspect();
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`${imageId} never left`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'snapkeeper-bench-'));
  const engine = await startDockerEngine(join(dir, 'engine'));
  const { temporalCliPath } = await ensureTemporal();
  const server = await startDevServer({
    cliPath: temporalCliPath,
    dbFile: join(dir, 'temporal.sqlite'),
    headless: true,
  });
  const base = 'snapkeeper-bench/base:latest';
  await ensureBaseImage(engine.dockerHost, base);
  const docker = createDockerode(engine.dockerHost);

  const config = loadConfig({
    TEMPORAL_ADDRESS: server.address,
    DOCKER_HOST: engine.dockerHost,
    SNAPKEEPER_HOST_ID: HOST,
    SNAPKEEPER_LOG_LEVEL: 'warn',
  });
  const native = await NativeConnection.connect({ address: server.address });
  const workers = await createWorkers({
    config,
    connection: native,
    docker: createDockerPort(docker),
    log: createLogger({ level: 'warn' }),
  });
  const running = Promise.all(workers.map((w) => w.run()));
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const service = createSnapshotService({ client, defaultTtlSeconds: 3600 });

  const rssBefore = process.memoryUsage().rss;
  const rows: Array<{ what: string; ms: number; baseline: string; baseMs: number }> = [];
  try {
    // Warm-up: the first workflow task of a fresh worker pays for the workflow bundle's isolate.
    const warm = await makeImage(docker, base, 'bench', 'warm');
    await service.register({ projectId: 'bench', workItemId: 'warm', image: warm.image, host: HOST });
    await service.invalidate('bench', 'warm', 'warm-up');
    await untilGone(docker, warm.imageId);

    const raw: number[] = [];
    for (let i = 0; i < N; i++) {
      const img = await makeImage(docker, base, 'bench', `raw-${i}`);
      const [ms] = await timed(() => docker.getImage(img.imageId).remove());
      raw.push(ms);
    }

    const inspect: number[] = [];
    const start: number[] = [];
    const register: number[] = [];
    const query: number[] = [];
    const lookup: number[] = [];
    const removal: number[] = [];
    for (let i = 0; i < N; i++) {
      const workItemId = `item-${i}`;
      const img = await makeImage(docker, base, 'bench', workItemId);
      inspect.push((await timed(() => docker.getImage(img.image).inspect()))[0]);
      // Baseline for registration: a bare workflow start of the same type (which then idles).
      const [startMs, h] = await timed(() =>
        client.workflow.start('snapshotWorkflow', {
          taskQueue: 'snapkeeper',
          // Its own id: the workflow refuses to run under one that does not match its ids.
          workflowId: snapshotWorkflowId('bench-raw', workItemId),
          args: [{ projectId: 'bench-raw', workItemId }],
        }),
      );
      start.push(startMs);
      await h.terminate('bench baseline');
      register.push(
        (
          await timed(() =>
            service.register({ projectId: 'bench', workItemId, image: img.image, host: HOST }),
          )
        )[0],
      );
      const handle = service.handle('bench', workItemId);
      query.push((await timed(() => handle.query(stateQuery)))[0]);
      lookup.push((await timed(() => service.lookup('bench', workItemId)))[0]);
      const [removeMs] = await timed(async () => {
        await service.invalidate('bench', workItemId, 'bench');
        await untilGone(docker, img.imageId);
      });
      removal.push(removeMs);
    }
    rows.push(
      {
        what: 'register (update-with-start + inspect activity)',
        ms: median(register),
        baseline: 'raw workflow start + raw docker inspect',
        baseMs: median(start) + median(inspect),
      },
      {
        what: 'lookup (touch update)',
        ms: median(lookup),
        baseline: 'raw Temporal query',
        baseMs: median(query),
      },
      {
        what: 'invalidate → image gone from the engine',
        ms: median(removal),
        baseline: 'raw docker rmi',
        baseMs: median(raw),
      },
    );
  } finally {
    for (const w of workers) w.shutdown();
    await running;
    await native.close();
    await connection.close();
    await server.stop();
    await engine.stop();
    await rm(dir, { recursive: true, force: true });
  }

  console.log(`\nsnapkeeper bench: ${N} iterations each, medians (ms), Node ${process.version}\n`);
  console.log('| operation | median ms | baseline | baseline median ms | ratio |');
  console.log('| --- | ---: | --- | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.what} | ${r.ms.toFixed(1)} | ${r.baseline} | ${r.baseMs.toFixed(1)} | ${(r.ms / r.baseMs).toFixed(2)}× |`,
    );
  }
  const rssAfter = process.memoryUsage().rss;
  console.log(
    `\nRSS of the bench process (worker in-process): ${(rssBefore / 2 ** 20).toFixed(0)} MiB → ${(rssAfter / 2 ** 20).toFixed(0)} MiB`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
