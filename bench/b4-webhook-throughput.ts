// B4: merge webhooks per second through the API, against raw client signals of the same kind to
// the same snapshot workflows. The raw signals name another pull request, so the workflows ignore
// them and stay open for the webhooks that follow.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { mapLimit } from '../src/service/map-limit.js';
import { snapshotWorkflowId } from '../src/contract/names.js';
import { mergedSignal } from '../src/contract/messages.js';
import type { BenchContext } from './bench-context.js';
import { sizeOf } from './bench-context.js';
import { commitImages } from './bench-images.js';
import { parseServerTiming, post } from './http-post.js';
import { cpuPerOperation, cpuSnapshot } from './process-cpu.js';
import { mergeDelivery } from './merge-delivery.js';
import { registerLinked } from './register-linked.js';
import type { BenchResult } from './result-types.js';
import { summarize, wallMs } from './stats.js';

export const B4_CONCURRENCY = 16;

const PHASE_NAMES: Record<string, string> = {
  verify: 'signature check',
  'hand-off': 'hand-off (pull request workflow start)',
  'fast-pass': 'fast pass (beside the hand-off)',
  lookup: 'fast pass: visibility look for linked snapshots',
  signals: 'fast pass: merged signals',
};

const round = (ms: number) => Math.round(ms * 10) / 10;

/** `{ worker: 3 }` under `cpuMsPerRawSignal` as `{ 'cpuMsPerRawSignal.worker': 3 }`: parameters are flat. */
const flat = (prefix: string, values: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(values).map(([name, v]) => [`${prefix}.${name}`, v]));

export async function runB4(ctx: BenchContext): Promise<BenchResult> {
  const n = sizeOf(ctx, 'B4', 100, 1000);
  const projectId = `b4-${ctx.run}`;
  const repository = `bench/b4-${ctx.run}`;
  ctx.progress(`B4: committing and registering ${n} snapshots, each linked to its pull request`);
  const images = await commitImages(ctx.docker, {
    baseImage: ctx.environment.baseImage,
    repository: `bench-b4/${ctx.run}`,
    ids: Array.from({ length: n }, (_, i) => ({ projectId, workItemId: `item-${i}` })),
  });
  await registerLinked(ctx, images, repository);

  ctx.progress(`B4: ${n} raw merged signals (another pull request), ${B4_CONCURRENCY} in flight`);
  const rawLatency: number[] = [];
  // CPU of every process of the stack, per operation, in each window: where a webhook's cost lands.
  const pids = {
    ...ctx.environment.processes(),
    worker: ctx.stack.workerPid,
    api: ctx.stack.apiPid,
    bench: process.pid,
  };
  const cpuRawStart = cpuSnapshot(pids);
  const rawStart = wallMs();
  await mapLimit(images, B4_CONCURRENCY, async (img, i) => {
    const t0 = wallMs();
    await ctx.stack.client.workflow
      .getHandle(snapshotWorkflowId(img.projectId, img.workItemId))
      .signal(mergedSignal, {
        pullRequest: { repository: `${repository}-other`, number: i + 1 },
        deliveryId: randomUUID(),
        mergedAt: new Date().toISOString(),
        match: 'link',
      });
    rawLatency.push(wallMs() - t0);
  });
  const rawSeconds = (wallMs() - rawStart) / 1000;
  const cpuRaw = cpuPerOperation(cpuRawStart, cpuSnapshot(pids), n);
  // The raw signals must not have ended anything, or the webhooks would find nothing to do.
  await sleep(2_000);
  const ended = images.filter((img) => ctx.events.wasDeleted(img.imageId)).length;
  if (ended > 0)
    throw new Error(`B4: ${ended} snapshots ended on a merge signal meant for another pull request`);

  ctx.progress(`B4: ${n} merge webhooks, ${B4_CONCURRENCY} in flight`);
  const apiLatency: number[] = [];
  // Each answer's Server-Timing: where the API spent the delivery's time (verify, hand-off, and
  // beside it the fast pass's visibility look and signals).
  const phases = new Map<string, number[]>();
  const cpuApiStart = cpuSnapshot(pids);
  const apiStart = wallMs();
  await mapLimit(images, B4_CONCURRENCY, async (img, i) => {
    const d = mergeDelivery({
      secret: ctx.stack.secret,
      repository,
      number: i + 1,
      headRef: `feature/${img.workItemId}`,
      mergedAt: new Date(),
    });
    const t0 = wallMs();
    const res = await post(`${ctx.stack.baseUrl}/webhooks/github`, d.headers, d.body);
    if (res.status !== 202) throw new Error(`merge webhook answered ${res.status}: ${res.text}`);
    apiLatency.push(wallMs() - t0);
    for (const [name, ms] of Object.entries(parseServerTiming(res.serverTiming)))
      phases.set(name, [...(phases.get(name) ?? []), ms]);
  });
  const apiSeconds = (wallMs() - apiStart) / 1000;
  const cpuAnswered = cpuSnapshot(pids);
  const gone = await Promise.all(images.map((img) => ctx.events.deleted(img.imageId, 300_000)));
  const allGoneSeconds = (Math.max(...gone.map((g) => g.engineMs)) - apiStart) / 1000;
  const cpuWebhooks = cpuPerOperation(cpuApiStart, cpuAnswered, n);
  const cpuThroughGone = cpuPerOperation(cpuApiStart, cpuSnapshot(pids), n);
  const cpuLine = (what: string, perOp: Record<string, number>) =>
    `CPU ms per operation, ${what}: ${Object.entries(perOp)
      .map(([name, ms]) => `${name} ${ms}`)
      .join(', ')} (total ${Math.round(Object.values(perOp).reduce((a, b) => a + b, 0) * 100) / 100})`;

  const rawRate = n / rawSeconds;
  const apiRate = n / apiSeconds;
  return {
    id: 'B4',
    title: 'merge webhooks',
    parameters: {
      n,
      concurrency: B4_CONCURRENCY,
      ...flat('cpuMsPerRawSignal', cpuRaw),
      ...flat('cpuMsPerWebhookAnswered', cpuWebhooks),
      ...flat('cpuMsPerWebhookThroughGone', cpuThroughGone),
    },
    rows: [
      {
        what: `merge webhooks answered per second (${B4_CONCURRENCY} in flight)`,
        measured: { kind: 'figure', label: 'API', value: apiRate, unit: '/s' },
        baseline: { kind: 'figure', label: 'raw client `merged` signals', value: rawRate, unit: '/s' },
        ratio: apiRate / rawRate,
        goal: 'ratio ≥ 0.8',
        met: apiRate / rawRate >= 0.8,
      },
      {
        what: `merge webhook answer latency (${B4_CONCURRENCY} in flight)`,
        measured: { kind: 'latency', label: 'POST /webhooks/github', summary: summarize(apiLatency) },
        baseline: { kind: 'latency', label: 'raw client signal', summary: summarize(rawLatency) },
        ratio: summarize(apiLatency).median / summarize(rawLatency).median,
      },
      {
        what: `first webhook sent → last of the ${n} images gone`,
        measured: { kind: 'figure', label: 'all gone', value: allGoneSeconds, unit: 's' },
      },
    ],
    timeline: [
      ...[...phases].map(([name, values]) => {
        const s = summarize(values);
        return {
          step: `webhook phase (Server-Timing): ${PHASE_NAMES[name] ?? name}`,
          medianMs: round(s.median),
          p99Ms: round(s.p99),
          n: s.n,
        };
      }),
      (() => {
        const s = summarize(rawLatency);
        return {
          step: 'raw client signal (baseline)',
          medianMs: round(s.median),
          p99Ms: round(s.p99),
          n: s.n,
        };
      })(),
    ],
    notes: [
      'Each webhook merges its own pull request, linked to one snapshot; the raw signals went to the same workflows first, naming another pull request (ignored by the workflow).',
      cpuLine('raw signals (their window)', cpuRaw),
      cpuLine('webhooks (first sent to last answered)', cpuWebhooks),
      cpuLine(
        'webhooks (first sent to the last image gone, after the answers: cleanup and pull request workflows)',
        cpuThroughGone,
      ),
    ],
  };
}
