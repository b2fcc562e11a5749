// B3: registrations through the API (POST /v1/snapshots: update-with-start, the image check on its
// host, the budget) against the floor of that shape: a raw update-with-start with a no-op update
// on a trivial workflow of a bench worker, then a raw `docker inspect` of a like image.
import { WithStartWorkflowOperation } from '@temporalio/client';
import { startNodeService } from '../scripts/lib/node-service.js';
import { mapLimit } from '../src/service/map-limit.js';
import type { BenchContext } from './bench-context.js';
import { sizeOf } from './bench-context.js';
import type { BenchImage } from './bench-images.js';
import { commitImages } from './bench-images.js';
import type { BenchResult } from './result-types.js';
import { childEnv } from './snapkeeper-stack.js';
import { summarize, wallMs } from './stats.js';
import { NOOP_TASK_QUEUE, finishSignal, noopUpdate } from './workflows/noop-workflow.js';

export const B3_CONCURRENCY = 16;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = wallMs();
  await fn();
  return wallMs() - t0;
}

export async function runB3(ctx: BenchContext): Promise<BenchResult> {
  const n = sizeOf(ctx, 'B3', 100, 1000);
  const sequential = Math.min(n, ctx.options.size === 'quick' ? 30 : 200);
  const projectId = `b3-${ctx.run}`;
  const total = n + sequential;
  ctx.progress(`B3: committing ${total} snapshots; starting the bench worker`);
  const images = await commitImages(ctx.docker, {
    baseImage: ctx.environment.baseImage,
    repository: `bench-b3/${ctx.run}`,
    ids: Array.from({ length: total }, (_, i) => ({ projectId, workItemId: `item-${i}` })),
  });
  const noopWorker = await startNodeService({
    name: 'bench-worker',
    entry: 'bench/noop-worker.ts',
    env: childEnv({ BENCH_TEMPORAL_ADDRESS: ctx.environment.temporalAddress }),
    readyMessage: 'bench worker ready',
  });
  const workflowIds: string[] = [];
  try {
    await noopWorker.waitReady(120_000);
    const { client } = ctx.stack;
    const raw = async (img: BenchImage) => {
      const workflowId = `bench-noop-${ctx.run}-${img.workItemId}`;
      workflowIds.push(workflowId);
      await client.workflow.executeUpdateWithStart(noopUpdate, {
        startWorkflowOperation: new WithStartWorkflowOperation('benchNoopWorkflow', {
          workflowId,
          taskQueue: NOOP_TASK_QUEUE,
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      });
      await ctx.docker.getImage(img.image).inspect();
    };
    const register = async (img: BenchImage) => {
      await ctx.stack.api.register({
        projectId: img.projectId,
        workItemId: img.workItemId,
        image: img.image,
        host: ctx.stack.hostId,
      });
    };
    // Warm-up of both paths (the first workflow task of a worker pays for its isolate).
    await raw({ ...images[0]!, workItemId: 'warm-up' });
    const warm = await commitImages(ctx.docker, {
      baseImage: ctx.environment.baseImage,
      repository: `bench-b3-warm/${ctx.run}`,
      ids: [{ projectId, workItemId: 'warm-up' }],
    });
    await register(warm[0]!);

    ctx.progress(`B3: ${sequential} sequential pairs (raw, then API)`);
    const rawLatency: number[] = [];
    const apiLatency: number[] = [];
    for (let i = 0; i < sequential; i++) {
      const img = images[n + i]!;
      rawLatency.push(await timed(() => raw(img)));
      apiLatency.push(await timed(() => register(img)));
    }

    ctx.progress(`B3: ${n} raw operations, then ${n} registrations, ${B3_CONCURRENCY} at a time`);
    const batch = images.slice(0, n);
    const rawLoaded: number[] = [];
    const rawStart = wallMs();
    await mapLimit(batch, B3_CONCURRENCY, async (img) =>
      rawLoaded.push(await timed(() => raw({ ...img, workItemId: `t-${img.workItemId}` }))),
    );
    const rawSeconds = (wallMs() - rawStart) / 1000;
    const apiLoaded: number[] = [];
    const apiStart = wallMs();
    await mapLimit(batch, B3_CONCURRENCY, async (img) => apiLoaded.push(await timed(() => register(img))));
    const apiSeconds = (wallMs() - apiStart) / 1000;

    const seqRaw = summarize(rawLatency);
    const seqApi = summarize(apiLatency);
    const rawRate = n / rawSeconds;
    const apiRate = n / apiSeconds;
    return {
      id: 'B3',
      title: 'registrations',
      parameters: { n, concurrency: B3_CONCURRENCY, sequentialPairs: sequential },
      rows: [
        {
          what: `registrations per second through the API (${B3_CONCURRENCY} in flight)`,
          measured: { kind: 'figure', label: 'API', value: apiRate, unit: '/s' },
          baseline: {
            kind: 'figure',
            label: 'raw update-with-start (no-op) + raw inspect',
            value: rawRate,
            unit: '/s',
          },
          ratio: apiRate / rawRate,
          goal: 'ratio ≥ 0.8',
          met: apiRate / rawRate >= 0.8,
        },
        {
          what: 'register latency, one at a time',
          measured: { kind: 'latency', label: 'POST /v1/snapshots', summary: seqApi },
          baseline: {
            kind: 'latency',
            label: 'raw update-with-start (no-op) + raw inspect',
            summary: seqRaw,
          },
          ratio: seqApi.median / seqRaw.median,
          goal: 'median ≤ 3× baseline',
          met: seqApi.median <= 3 * seqRaw.median,
        },
        {
          what: `register latency, ${B3_CONCURRENCY} in flight`,
          measured: { kind: 'latency', label: 'POST /v1/snapshots', summary: summarize(apiLoaded) },
          baseline: {
            kind: 'latency',
            label: 'raw update-with-start (no-op) + raw inspect',
            summary: summarize(rawLoaded),
          },
          ratio: summarize(apiLoaded).median / summarize(rawLoaded).median,
        },
      ],
      notes: [
        'Baseline: WithStartWorkflowOperation (USE_EXISTING) + a no-op update on benchNoopWorkflow, run by a bench worker in its own process, then docker inspect of the image; the same client library, server and engine.',
        'Each registration is a new work item with its own freshly committed image.',
      ],
    };
  } finally {
    const { client } = ctx.stack;
    await mapLimit(workflowIds, 16, (id) =>
      client.workflow
        .getHandle(id)
        .signal(finishSignal)
        .catch(() => undefined),
    );
    await noopWorker.stop('SIGTERM', 30_000);
  }
}
