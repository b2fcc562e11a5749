// B5: many open snapshot workflows on one Temporal: the time to register them all through the API,
// the lookup latency over a random sample of them, and the workers' memory meanwhile. Registration
// needs the image on its host: the host "bench-scale" is a Docker worker over SyntheticDocker (no
// real engine holds 100,000 images), and the bench says so beside the figures.
import { mapLimit } from '../src/service/map-limit.js';
import { loadConfig } from '../src/config/config.js';
import { startNodeService } from '../scripts/lib/node-service.js';
import type { BenchContext } from './bench-context.js';
import { sizeOf } from './bench-context.js';
import { sampleRss } from './process-rss.js';
import type { BenchResult } from './result-types.js';
import { childEnv } from './snapkeeper-stack.js';
import { summarize, wallMs } from './stats.js';
import { syntheticImage } from './synthetic-docker.js';
import { snapshotWorkflowId } from '../src/contract/names.js';

const HOST = 'bench-scale';
const CONCURRENCY = 32;

interface ReadyLine {
  msg?: string;
  taskQueues?: string[];
  maxCachedWorkflows?: number[];
  heapSizeLimitMiB?: number;
}

/** The SDK's default when a worker sets no maxCachedWorkflows (worker-options.js of SDK 1.24). */
export function defaultMaxCachedWorkflows(heapSizeLimitMiB: number): number {
  return Math.max(Math.floor((Math.max(heapSizeLimitMiB - 200, 0) * 600) / 1024), 10);
}

export async function runB5(ctx: BenchContext): Promise<BenchResult> {
  const n = sizeOf(ctx, 'B5', 2000, 100_000);
  const sample = Math.min(n, ctx.options.size === 'quick' ? 100 : 500);
  const projectId = `b5-${ctx.run}`;
  let ready: ReadyLine = {};
  const worker = await startNodeService({
    name: 'scale-worker',
    entry: 'bench/scale-worker.ts',
    env: childEnv({
      TEMPORAL_ADDRESS: ctx.environment.temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      SNAPKEEPER_HOST_ID: HOST,
      SNAPKEEPER_WORKER_ROLES: 'docker',
      SNAPKEEPER_LOG_LEVEL: 'warn',
    }),
    readyMessage: 'bench scale worker ready',
    onLine(line) {
      if (line.includes('bench scale worker ready')) ready = JSON.parse(line) as ReadyLine;
    },
  });
  const rss = sampleRss({ workflowWorker: ctx.stack.workerPid, scaleDockerWorker: worker.pid });
  try {
    await worker.waitReady(120_000);
    const heapLimit = ready.heapSizeLimitMiB ?? Number.NaN;
    // A snapkeeper that configures the cache says so in its configuration; else the SDK decides.
    const configured = (
      loadConfig(ctx.stack.env) as unknown as { workflowCache?: { maxCachedWorkflows?: number } }
    ).workflowCache?.maxCachedWorkflows;
    const cache = configured ?? defaultMaxCachedWorkflows(heapLimit);
    const cacheOrigin =
      configured === undefined ? `the SDK default for a ${heapLimit} MiB heap limit` : 'configured';
    ctx.progress(`B5: registering ${n} snapshots through the API, ${CONCURRENCY} in flight`);
    const t0 = wallMs();
    // When the cache had filled and when half were open, on the RSS series' clock: memory that is
    // bounded by the cache stops growing between the two and after.
    const marks: { cacheFull?: number; half?: number } = {};
    let done = 0;
    const registerLatency: number[] = [];
    await mapLimit(
      Array.from({ length: n }, (_, i) => i),
      CONCURRENCY,
      async (i) => {
        const workItemId = `item-${i}`;
        const s = wallMs();
        await ctx.stack.api.register({
          projectId,
          workItemId,
          image: syntheticImage(projectId, workItemId),
          host: HOST,
          ttlSeconds: 7 * 86_400,
        });
        registerLatency.push(wallMs() - s);
        ++done;
        if (done === Math.min(cache, n)) marks.cacheFull = rss.at();
        if (done === Math.ceil(n / 2)) marks.half = rss.at();
        if (done % 1000 === 0) {
          const seconds = (wallMs() - t0) / 1000;
          ctx.progress(
            `B5: ${done}/${n} registered in ${seconds.toFixed(0)} s (${(done / seconds).toFixed(1)}/s)`,
          );
        }
      },
    );
    const registerSeconds = (wallMs() - t0) / 1000;

    ctx.progress(`B5: ${sample} lookups of random work items through the API`);
    const lookups: number[] = [];
    const describes: number[] = [];
    const picked: number[] = [];
    for (let k = 0; k < sample; k++) {
      const i = Math.floor(Math.random() * n);
      picked.push(i);
      const s = wallMs();
      const hit = await ctx.stack.api.lookup(projectId, `item-${i}`);
      lookups.push(wallMs() - s);
      if (!hit) throw new Error(`B5: lookup of item-${i} missed`);
      // Baseline: the describe every lookup starts with, raw, from the bench's own client.
      const d = wallMs();
      await ctx.stack.client.workflow.getHandle(snapshotWorkflowId(projectId, `item-${i}`)).describe();
      describes.push(wallMs() - d);
    }
    // The same work items again, within the recording interval: the use each first lookup recorded
    // is in the memo (or, until the workflow's task, in the API's RecentUses), so nothing is sent.
    ctx.progress(`B5: the same ${sample} lookups again, within the recording interval`);
    const repeats: number[] = [];
    for (const i of picked) {
      const s = wallMs();
      const hit = await ctx.stack.api.lookup(projectId, `item-${i}`);
      repeats.push(wallMs() - s);
      if (!hit) throw new Error(`B5: repeated lookup of item-${i} missed`);
    }
    rss.stop();
    const lookup = summarize(lookups);
    const lookupAgain = summarize(repeats);
    const describe = summarize(describes);
    const end = rss.at();
    // NaN when the window is empty: the cache never filled before half were open (a small n).
    const rssBetween = (from: number | undefined, to: number) => {
      const inWindow = rss.series.workflowWorker!.filter(([t]) => from !== undefined && t >= from && t <= to);
      return inWindow.length === 0 ? Number.NaN : Math.max(...inWindow.map(([, v]) => v));
    };
    const half = marks.half ?? end;
    return {
      id: 'B5',
      title: 'many open snapshot workflows',
      parameters: {
        openWorkflows: n,
        registrationConcurrency: CONCURRENCY,
        lookupSample: sample,
        workflowWorkerMaxCachedWorkflows: cache,
        scaleWorkerQueues: (ready.taskQueues ?? []).join(' '),
        scaleWorkerMaxCachedWorkflows: (ready.maxCachedWorkflows ?? []).join(' '),
      },
      rows: [
        {
          what: `time to register ${n} snapshots through the API (${CONCURRENCY} in flight)`,
          measured: { kind: 'figure', label: 'register all', value: registerSeconds, unit: 's' },
        },
        {
          what: `register latency while filling (${CONCURRENCY} in flight)`,
          measured: { kind: 'latency', label: 'register', summary: summarize(registerLatency) },
        },
        {
          what: 'registrations per second while filling',
          measured: { kind: 'figure', label: 'rate', value: n / registerSeconds, unit: '/s' },
        },
        {
          what: `lookup (GET /v1/snapshots/…) of random work items among ${n} open (first lookups; the notes say which record their use)`,
          measured: { kind: 'latency', label: 'lookup', summary: lookup },
          baseline: { kind: 'latency', label: 'raw DescribeWorkflowExecution', summary: describe },
          ratio: lookup.median / describe.median,
          goal: 'p99 ≤ 50 ms',
          met: lookup.p99 <= 50 && n >= 100_000,
        },
        {
          what: `the same lookups again within the recording interval (nothing to record) among ${n} open`,
          measured: { kind: 'latency', label: 'lookup again', summary: lookupAgain },
          baseline: { kind: 'latency', label: 'raw DescribeWorkflowExecution', summary: describe },
          ratio: lookupAgain.median / describe.median,
        },
        {
          what: `workflow worker RSS, max while ${n} workflows opened (cache ${cache} workflows)`,
          measured: { kind: 'figure', label: 'RSS max', value: rss.max('workflowWorker'), unit: 'MiB' },
          goal: 'bounded by its cache',
        },
        {
          what: `workflow worker RSS, max from the cache full (${Math.min(cache, n)} open) to half of them open`,
          measured: {
            kind: 'figure',
            label: 'RSS max',
            value: rssBetween(marks.cacheFull, half),
            unit: 'MiB',
          },
        },
        {
          what: 'workflow worker RSS, max over the second half and the lookups',
          measured: { kind: 'figure', label: 'RSS max', value: rssBetween(half, end), unit: 'MiB' },
        },
        {
          what: 'scale Docker worker RSS, max',
          measured: { kind: 'figure', label: 'RSS max', value: rss.max('scaleDockerWorker'), unit: 'MiB' },
        },
      ],
      notes: [
        'The images of host "bench-scale" are synthetic: its Docker worker (bench/scale-worker.ts, createWorkers) answers from SyntheticDocker, which derives each image from its name; the workflows, the API and Temporal are real.',
        `The workflow worker is src/worker/main.ts (the bench's snapkeeper process): maxCachedWorkflows ${cache}, ${cacheOrigin}.`,
        "The lookup goal counts at 100,000 open workflows only. Baseline: a raw DescribeWorkflowExecution of the same workflow from the bench's own client, right after each lookup (the call every lookup starts with; a lookup whose work item's use is older than the recording interval then records it with a `used` signal, or with the touch update within 10 s of the image's expiry). A first lookup records its use unless its work item was registered within the last minute (the default interval); the second pass over the same work items records none.",
        "RSS bounded by the cache: the workflow worker's maximum after the cache had filled, up to half of the workflows open, against its maximum over the second half and the lookups.",
      ],
      series: rss.series,
    };
  } finally {
    rss.stop();
    await worker.stop('SIGTERM', 30_000).catch(() => undefined);
  }
}
