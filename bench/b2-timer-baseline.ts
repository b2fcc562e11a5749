// B2's baseline: the same burst with nothing of snapkeeper's in it. Each image is owned by the most
// trivial durable workflow (bench/workflows/ttl-timer-workflow.ts): a timer to an instant of the
// target second, then one raw Engine API remove on a queue of its own, served by a bench worker in
// its own process. Started with raw client.workflow.start calls; measured like snapkeeper's burst,
// from each image's own instant to its `delete` event on the bench's event stream.
import { mapLimit } from '../src/service/map-limit.js';
import type { BenchContext } from './bench-context.js';
import { commitImages } from './bench-images.js';
import { startFloorWorker } from './floor-worker.js';
import type { TimelineStep } from './merge-timeline.js';
import { expiryTimeline } from './merge-timeline.js';
import type { Summary } from './stats.js';
import { summarize, wallMs } from './stats.js';
import { TIMER_TASK_QUEUE } from './workflows/ttl-timer-workflow.js';

/** Starts in flight: only their rate matters (every start must beat the target), not their latency. */
const START_CONCURRENCY = 16;
/** Warm-up workflows, not counted: their rate sets the target, and they warm the worker up. */
const PROBE = 16;

export interface TimerBaseline {
  summary: Summary;
  parameters: Record<string, number | string>;
  timeline: TimelineStep[];
}

/**
 * The wake-up instants of `n` timers spread evenly over the first `windowMs` of the target second
 * (where B2 aims snapkeeper's expiries), in whole milliseconds, the first at the target itself.
 */
export function spreadWakes(n: number, targetMs: number, windowMs: number): number[] {
  return Array.from({ length: n }, (_, i) => targetMs + Math.floor((i * windowMs) / n));
}

/** A target that `count` starts at `perSecond` beat with room to spare, on a whole second. */
export function burstTarget(nowMs: number, count: number, perSecond: number): number {
  const rate = Number.isFinite(perSecond) && perSecond > 0 ? perSecond : 1;
  return (Math.ceil(nowMs / 1000) + Math.ceil((count / rate) * 1.5 + 10)) * 1000;
}

export async function runTimerBaseline(
  ctx: BenchContext,
  options: { n: number; windowMs: number },
): Promise<TimerBaseline> {
  const { n, windowMs } = options;
  ctx.progress(`B2 baseline: committing ${n + PROBE} images; starting the timer worker`);
  // Without the managed labels: no part of snapkeeper may take them while they are measured.
  const images = await commitImages(ctx.docker, {
    baseImage: ctx.environment.baseImage,
    repository: `bench-b2-base/${ctx.run}`,
    ids: Array.from({ length: n + PROBE }, (_, i) => ({
      projectId: `b2-base-${ctx.run}`,
      workItemId: `item-${i}`,
    })),
    managed: false,
  });
  const worker = await startFloorWorker(ctx);
  try {
    const { client } = ctx.stack;
    const workflowId = (i: number) => `bench-timer-${ctx.run}-${i}`;
    const start = (i: number, wakeAtMs: number) =>
      client.workflow.start('benchTimerWorkflow', {
        workflowId: workflowId(i),
        taskQueue: TIMER_TASK_QUEUE,
        args: [images[i]!.imageId, wakeAtMs],
      });

    ctx.progress(`B2 baseline: ${PROBE} warm-up workflows`);
    const probeStart = wallMs();
    const probeWake = Date.now() + 2000;
    await mapLimit(
      Array.from({ length: PROBE }, (_, k) => n + k),
      START_CONCURRENCY,
      (i) => start(i, probeWake),
    );
    const perSecond = PROBE / ((wallMs() - probeStart) / 1000);
    await Promise.all(images.slice(n).map((img) => ctx.events.deleted(img.imageId, 300_000)));

    const target = burstTarget(Date.now(), n, perSecond);
    const wakes = spreadWakes(n, target, windowMs);
    ctx.progress(
      `B2 baseline: ${n} raw starts at ~${perSecond.toFixed(1)}/s, timers from ${new Date(target).toISOString()} over ${windowMs} ms`,
    );
    let late = 0;
    await mapLimit(
      Array.from({ length: n }, (_, i) => i),
      START_CONCURRENCY,
      async (i) => {
        await start(i, wakes[i]!);
        if (Date.now() > wakes[i]!) late++;
      },
    );
    const startedBy = Date.now();
    ctx.progress(
      `B2 baseline: all started ${((target - startedBy) / 1000).toFixed(1)} s before the target; waiting`,
    );
    const gone = await Promise.all(
      images.slice(0, n).map(async (img, i) => {
        const event = await ctx.events.deleted(img.imageId, Math.max(0, target - Date.now()) + 600_000);
        return event.engineMs - wakes[i]!;
      }),
    );
    const summary = summarize(gone);
    ctx.progress(
      `B2 baseline: ${n} gone, median ${summary.median.toFixed(0)} ms, p99 ${summary.p99.toFixed(0)} ms after their instants`,
    );
    const every = Math.max(1, Math.ceil(n / 200));
    const timeline = await expiryTimeline(
      client,
      images
        .slice(0, n)
        .map((img, i) => ({
          workflowId: workflowId(i),
          expiresMs: wakes[i]!,
          goneMs: ctx.events.wasDeleted(img.imageId)?.engineMs ?? Number.NaN,
        }))
        .filter((_, k) => k % every === 0),
      { activityName: 'rawRemoveImage' },
    );
    return {
      summary,
      parameters: {
        baselineN: n,
        baselineStartConcurrency: START_CONCURRENCY,
        baselineStartsPerSecond: Number(perSecond.toFixed(1)),
        baselineSpreadMs: wakes[n - 1]! - wakes[0]!,
        baselineTargetSecond: new Date(target).toISOString(),
        baselineStartedLate: late,
      },
      timeline: timeline.map((t) => ({
        ...t,
        step: `baseline: ${t.step.replace('expiresAt', 'timer instant')}`,
      })),
    };
  } finally {
    await worker.stop('SIGTERM', 30_000);
  }
}
