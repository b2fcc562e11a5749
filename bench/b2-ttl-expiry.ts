// B2: many snapshots whose TTLs run out in the same second → each image's `delete` on Docker's
// event stream minus its own expiry time (expiresAt, as the registration answered it). First, as its
// baseline, the same burst of raw timer workflows (b2-timer-baseline.ts), until all its images are gone.
import { mapLimit } from '../src/service/map-limit.js';
import type { BenchContext } from './bench-context.js';
import { sizeOf } from './bench-context.js';
import { commitImages } from './bench-images.js';
import { expiryTimeline } from './merge-timeline.js';
import { snapshotWorkflowId } from '../src/contract/names.js';
import type { BenchResult } from './result-types.js';
import { runTimerBaseline } from './b2-timer-baseline.js';
import { summarize, wallMs } from './stats.js';

// Few in flight: a burst of registrations makes their latency, and so their expiry, hard to predict.
const CONCURRENCY = 6;
/** Registrations measured first, to choose an expiry that every registration beats. */
const PROBE = 16;
/** Every expiry is aimed into this window at the start of the target second. */
const WINDOW_MS = 400;
/** Recent registrations whose delay (request sent → the workflow's own clock) predicts the next. */
const DELAY_SAMPLE = 16;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The whole-second TTL that lands an expiry `untilTargetMs` from the registration's own clock in the
 * first `windowMs` of the target second, or how long to wait until one does. Too late for a TTL of
 * one second or more: a TTL of 1 at once (the run then counts it as expired before all registered).
 */
export function aimTtl(untilTargetMs: number, windowMs: number): { ttlSeconds: number; waitMs: number } {
  if (untilTargetMs < 1000) return { ttlSeconds: 1, waitMs: 0 };
  const ttlSeconds = Math.ceil(untilTargetMs / 1000);
  const offset = ttlSeconds * 1000 - untilTargetMs;
  return { ttlSeconds, waitMs: offset < windowMs ? 0 : 1000 - offset };
}

export async function runB2(ctx: BenchContext): Promise<BenchResult> {
  const n = sizeOf(ctx, 'B2', 100, 1000);
  const projectId = `b2-${ctx.run}`;
  // The two bursts one after the other, never overlapping: the baseline's ends (every image gone)
  // before snapkeeper's first registration.
  const baseline = await runTimerBaseline(ctx, { n: n - PROBE, windowMs: WINDOW_MS });
  ctx.progress(`B2: committing ${n} snapshots`);
  const images = await commitImages(ctx.docker, {
    baseImage: ctx.environment.baseImage,
    repository: `bench-b2/${ctx.run}`,
    ids: Array.from({ length: n }, (_, i) => ({ projectId, workItemId: `item-${i}` })),
  });
  const expiresAt = new Map<string, number>();
  // The workflow counts a TTL in whole seconds from its own clock when the registration runs, which
  // trails the request by the registration's latency. So each request predicts that moment from the
  // latest registrations, and is sent only when the prediction falls into the first WINDOW_MS of a
  // second: its whole-second TTL then lands it in the window of the target second.
  const delays: number[] = [];
  const predictedDelay = () => {
    const recent = delays.slice(-DELAY_SAMPLE).sort((a, b) => a - b);
    return recent.length === 0 ? 0 : (recent[Math.floor(recent.length / 2)] as number);
  };
  let target = 0;
  const register = async (index: number) => {
    const img = images[index]!;
    let ttlSeconds = 3600;
    if (target !== 0) {
      for (;;) {
        const aim = aimTtl(target - (Date.now() + predictedDelay()), WINDOW_MS);
        ttlSeconds = aim.ttlSeconds;
        if (aim.waitMs === 0) break;
        await sleep(aim.waitMs);
      }
    }
    const sent = Date.now();
    const { snapshot } = await ctx.stack.api.register({
      projectId: img.projectId,
      workItemId: img.workItemId,
      image: img.image,
      host: ctx.stack.hostId,
      ttlSeconds,
    });
    delays.push(Date.parse(snapshot.createdAt) - sent);
    expiresAt.set(img.imageId, Date.parse(snapshot.expiresAt));
  };
  // The probe registrations get a long TTL and are not counted; their rate sets the target.
  ctx.progress(`B2: probing the registration rate with ${PROBE} registrations`);
  const probeStart = wallMs();
  await mapLimit(
    Array.from({ length: PROBE }, (_, i) => i),
    CONCURRENCY,
    register,
  );
  const perSecond = PROBE / ((wallMs() - probeStart) / 1000);
  const remaining = n - PROBE;
  // Waiting for the window costs some of the rate; the target leaves room for it.
  target = Date.now() + Math.ceil((remaining / perSecond) * 2.5 + 15) * 1000;
  ctx.progress(
    `B2: ${remaining} registrations at ~${perSecond.toFixed(1)}/s, all expiring around ${new Date(target).toISOString()}`,
  );
  const counted = Array.from({ length: remaining }, (_, i) => PROBE + i);
  await mapLimit(counted, CONCURRENCY, register);
  const registeredBy = Date.now();
  const late = counted.filter((i) => (expiresAt.get(images[i]!.imageId) ?? 0) < registeredBy).length;

  const expiries = counted.map((i) => expiresAt.get(images[i]!.imageId) ?? Number.NaN);
  const spreadMs = Math.max(...expiries) - Math.min(...expiries);
  const lastExpiry = Math.max(...expiries);
  const inTargetSecond = expiries.filter((e) => e >= target && e < target + 1000).length;
  ctx.progress(`B2: waiting for ${remaining} expiries (spread ${spreadMs} ms)`);
  const gone = await Promise.all(
    counted.map(async (i) => {
      const img = images[i]!;
      const waitMs = Math.max(0, lastExpiry - Date.now()) + 600_000;
      const event = await ctx.events.deleted(img.imageId, waitMs);
      return event.engineMs - (expiresAt.get(img.imageId) ?? Number.NaN);
    }),
  );
  const s = summarize(gone);
  // Up to 200 expiries, evenly spread: reading histories is not free.
  const every = Math.max(1, Math.ceil(counted.length / 200));
  const timeline = await expiryTimeline(
    ctx.stack.client,
    counted
      .filter((_, k) => k % every === 0)
      .map((i) => {
        const img = images[i]!;
        return {
          workflowId: snapshotWorkflowId(img.projectId, img.workItemId),
          expiresMs: expiresAt.get(img.imageId) ?? Number.NaN,
          goneMs: ctx.events.wasDeleted(img.imageId)?.engineMs ?? Number.NaN,
        };
      }),
    { activityName: 'retireSnapshotImage' },
  );
  return {
    id: 'B2',
    title: 'TTL expiry → image gone',
    parameters: {
      n: remaining,
      registrationConcurrency: CONCURRENCY,
      expirySpreadMs: spreadMs,
      expiringInTargetSecond: inTargetSecond,
      targetSecond: new Date(target).toISOString(),
      expiredBeforeAllRegistered: late,
      ...baseline.parameters,
    },
    rows: [
      {
        what: `TTL expiry → image \`delete\` event, ${remaining} expiring within ${(spreadMs / 1000).toFixed(1)} s`,
        measured: { kind: 'latency', label: 'expiry → gone', summary: s },
        baseline: {
          kind: 'latency',
          label: 'raw timer workflow → raw remove activity',
          summary: baseline.summary,
        },
        ratio: s.p99 / baseline.summary.p99,
        goal: 'p99 < 1 s',
        met: s.p99 < 1000,
      },
    ],
    timeline: [...timeline, ...baseline.timeline],
    notes: [
      'Expiry: the expiresAt the registration answered; each whole-second TTL was chosen from the registration delay the previous registrations showed, and the request held back until it would land in the first 400 ms of the target second. Gone: the engine timestamp of the image `delete` event.',
      `Baseline, first and alone (all its images gone before snapkeeper's first registration): the same number of images, each owned by benchTimerWorkflow, a durable timer to its own instant (spread evenly over the first ${WINDOW_MS} ms of its target second) and then one activity, a raw Engine API remove by id, on a queue of its own; both queues served by a bench worker process of their own (default worker options), started with raw client.workflow.start calls, ${PROBE} warm-up workflows first. Measured from each instant to the image's \`delete\` event. Ratio: p99 over the baseline's p99.`,
    ],
  };
}
