// B1: a signed merge webhook sent to the API → the image's `delete` on Docker's event stream, one
// merge at a time. The request is timed from the moment it is sent over loopback (its arrival, up
// to the sub-millisecond it takes to cross), to the engine's timestamp of the event. Baseline: a raw `docker rmi` of a like image, timed from the call to its
// `delete` on the same stream, interleaved with the merges so both see the same machine.
import type { BenchContext } from './bench-context.js';
import { sizeOf } from './bench-context.js';
import { commitImages } from './bench-images.js';
import type { BenchImage } from './bench-images.js';
import type { SignalFloor } from './b1-signal-floor.js';
import { FLOOR_SHAPES, startSignalFloor } from './b1-signal-floor.js';
import type { FloorShape } from './workflows/signal-floor-workflow.js';
import { goSignal } from './workflows/signal-floor-workflow.js';
import type { FloorSample, MergeSample } from './merge-timeline.js';
import { floorTimeline, mergeTimeline } from './merge-timeline.js';
import { findSnapshotsByPullRequest } from '../src/service/find-snapshots-by-pull-request.js';
import { snapshotWorkflowId } from '../src/contract/names.js';
import { post } from './http-post.js';
import { mergeDelivery } from './merge-delivery.js';
import { registerLinked } from './register-linked.js';
import type { BenchResult } from './result-types.js';
import { summarize, wallMs } from './stats.js';

const WARM_UP = 5;
const GONE_TIMEOUT_MS = 60_000;
const LOOKUP_EVERY = 10;

export async function runB1(ctx: BenchContext): Promise<BenchResult> {
  const n = sizeOf(ctx, 'B1', 50, 1000);
  const projectId = `b1-${ctx.run}`;
  const repository = `bench/b1-${ctx.run}`;
  const total = n + WARM_UP;
  ctx.progress(`B1: committing ${total} snapshots and ${total} baseline images`);
  const images = await commitImages(ctx.docker, {
    baseImage: ctx.environment.baseImage,
    repository: `bench-b1/${ctx.run}`,
    ids: Array.from({ length: total }, (_, i) => ({ projectId, workItemId: `item-${i}` })),
  });
  const rawImages = await commitImages(ctx.docker, {
    baseImage: ctx.environment.baseImage,
    repository: `bench-b1-raw/${ctx.run}`,
    ids: Array.from({ length: total }, (_, i) => ({ projectId: `${projectId}-raw`, workItemId: `raw-${i}` })),
  });
  ctx.progress(`B1: registering ${total} snapshots linked to their pull requests`);
  await registerLinked(ctx, images, repository);
  ctx.progress(`B1: starting ${2 * total} floor workflows (raw signal → raw remove)`);
  const floor = await startSignalFloor(ctx, total);
  try {
    return await measureB1(ctx, { n, repository, images, rawImages, floor });
  } finally {
    await floor.stop();
  }
}

async function measureB1(
  ctx: BenchContext,
  input: { n: number; repository: string; images: BenchImage[]; rawImages: BenchImage[]; floor: SignalFloor },
): Promise<BenchResult> {
  const { n, repository, images, rawImages, floor } = input;
  const total = n + WARM_UP;

  const merge: number[] = [];
  const answer: number[] = [];
  const raw: number[] = [];
  const lookup: number[] = [];
  const samples: MergeSample[] = [];
  const floorSamples = new Map<FloorShape, FloorSample[]>(FLOOR_SHAPES.map((shape) => [shape, []]));
  let failures = 0;
  ctx.progress(`B1: ${n} merges (+${WARM_UP} warm-up), each beside a raw rmi and the two floors`);
  for (let i = 0; i < total; i++) {
    const counted = i >= WARM_UP;
    const rawImage = rawImages[i]!;
    const t0 = wallMs();
    await ctx.docker.getImage(rawImage.image).remove();
    const rawGone = await ctx.events.deleted(rawImage.imageId, GONE_TIMEOUT_MS);
    if (counted) raw.push(rawGone.engineMs - t0);

    const img = images[i]!;
    const delivery = mergeDelivery({
      secret: ctx.stack.secret,
      repository,
      number: i + 1,
      headRef: `feature/${img.workItemId}`,
      mergedAt: new Date(),
    });
    const arrived = wallMs();
    const res = await post(`${ctx.stack.baseUrl}/webhooks/github`, delivery.headers, delivery.body);
    const answeredMs = wallMs();
    if (res.status !== 202) throw new Error(`merge webhook answered ${res.status}: ${res.text}`);
    try {
      const gone = await ctx.events.deleted(img.imageId, GONE_TIMEOUT_MS);
      if (counted) {
        merge.push(gone.engineMs - arrived);
        answer.push(answeredMs - arrived);
        samples.push({
          workflowId: snapshotWorkflowId(img.projectId, img.workItemId),
          sentMs: arrived,
          answeredMs,
          goneMs: gone.engineMs,
        });
      }
    } catch {
      failures++;
    }
    for (const shape of FLOOR_SHAPES) {
      const sample = await floor.measure(shape, i, GONE_TIMEOUT_MS);
      if (counted) floorSamples.get(shape)!.push(sample);
    }
    // The API's lookup of a pull request's snapshots, alone: the same visibility query from the
    // bench's client, after the merge (so it cannot warm anything the merge then uses). After every
    // tenth merge only: visibility is rate-limited per namespace (10/s on the cluster), and the
    // bench's own queries must not take the API's share.
    if (i % LOOKUP_EVERY === 0) {
      const l0 = wallMs();
      await findSnapshotsByPullRequest(ctx.stack.client, { repository, number: i + 1 });
      if (counted) lookup.push(wallMs() - l0);
    }
    if (counted && (i - WARM_UP + 1) % 100 === 0) ctx.progress(`B1: ${i - WARM_UP + 1}/${n}`);
  }
  if (failures > 0) throw new Error(`B1: ${failures} merged images never left the engine`);

  // Every merge up to 200, evenly spread beyond: reading histories is not free.
  const step = Math.max(1, Math.ceil(samples.length / 200));
  const sampled = samples.filter((_, k) => k % step === 0);
  const timeline = await mergeTimeline(ctx.stack.client, sampled, {
    signalName: 'merged',
    activityName: 'retireSnapshotImage',
  });
  for (const shape of FLOOR_SHAPES) {
    const picked = floorSamples.get(shape)!.filter((_, k) => k % step === 0);
    timeline.push(
      ...(await floorTimeline(ctx.stack.client, picked, {
        label: `floor (${shape})`,
        signalName: goSignal.name,
        activityName: 'rawRemoveImage',
      })),
    );
  }
  const m = summarize(merge);
  const r = summarize(raw);
  const floorOf = (shape: FloorShape) => summarize(floorSamples.get(shape)!.map((x) => x.goneMs - x.sentMs));
  const floorActivity = floorOf('activity');
  const floorLocal = floorOf('local-activity');
  return {
    id: 'B1',
    title: 'merge webhook → image gone',
    parameters: { n, warmUp: WARM_UP, sequential: true, repository: 'one pull request per snapshot' },
    rows: [
      {
        what: 'signed merge webhook → image `delete` event',
        measured: { kind: 'latency', label: 'merge → gone', summary: m },
        baseline: { kind: 'latency', label: 'raw `docker rmi` → `delete` event', summary: r },
        ratio: m.median / r.median,
        goal: 'median ≤ 50 ms, p99 ≤ 250 ms',
        met: m.median <= 50 && m.p99 <= 250 && m.n >= 1000,
      },
      {
        what: 'the same, against the Temporal floor: raw signal → trivial workflow → raw remove activity on its own queue → `delete` event',
        measured: { kind: 'latency', label: 'merge → gone', summary: m },
        baseline: { kind: 'latency', label: 'raw signal → activity → gone', summary: floorActivity },
        ratio: m.median / floorActivity.median,
      },
      {
        what: 'the same, against the Temporal floor with the remove as a local activity (inside the workflow task)',
        measured: { kind: 'latency', label: 'merge → gone', summary: m },
        baseline: { kind: 'latency', label: 'raw signal → local activity → gone', summary: floorLocal },
        ratio: m.median / floorLocal.median,
      },
      {
        what: 'merge webhook → 202 answer',
        measured: { kind: 'latency', label: 'answer', summary: summarize(answer) },
      },
      {
        what: "visibility lookup of a pull request's snapshots (the API's query, from the bench, after every tenth merge)",
        measured: { kind: 'latency', label: 'lookup', summary: summarize(lookup) },
      },
    ],
    timeline,
    notes: [
      `Timeline: ${sampled.length} merges, milestones from the bench's send time, the workflow's history (server timestamps) and the engine's delete event, all on this machine's clock.`,
      'Arrival: the moment the bench sends the request to the API process over loopback; gone: the engine timestamp (timeNano) of the image `delete` event.',
      'The goal also needs n ≥ 1,000 (full size); a quick run cannot meet it.',
      "Floor: for every merge, in the same loop, a raw client signal to a trivial workflow of a bench worker process of its own (default worker options), which removes a like image by id (raw Engine API remove) with an activity on a queue of its own, or with a local activity inside its workflow task; timed from the signal's send to the image's `delete` event. Ratio: snapkeeper's median over the floor's.",
    ],
  };
}
