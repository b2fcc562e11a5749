// B7's lifecycles, one driver per way a snapshot ends: each registers a committed image through the
// API, looks it up once (late enough that the lookup records its use, as a later job's lookup does),
// ends it the way its kind says, and waits until the image is gone from the engine and its workflow
// has nothing left in flight. Which workflows and which windows of time to count is returned to the
// caller (b7-cost.ts); nothing here reads a history.
import { setTimeout as sleep } from 'node:timers/promises';
import { mergedPullRequestWorkflowId, snapshotWorkflowId } from '../src/contract/names.js';
import { mapLimit } from '../src/service/map-limit.js';
import type { BenchContext } from './bench-context.js';
import type { LifecycleKind } from './b7-cost-types.js';
import type { BenchImage } from './bench-images.js';
import { commitImages } from './bench-images.js';
import { waitClosed, waitSettled } from './b7-histories.js';
import { post } from './http-post.js';
import { mergeDelivery } from './merge-delivery.js';

/**
 * Every snapshot lives this long at most. A lookup records its use when the recorded one is older
 * than a tenth of the TTL (2 s here; the API's 1-minute interval is longer), and does so by signal
 * when the expiry is more than 10 s away (USE_BY_UPDATE_WITHIN_MS): the lookup at 2.5 s does both.
 */
export const TTL_SECONDS = 20;
export const LOOKUP_AFTER_MS = 2500;
const GONE_TIMEOUT_MS = 120_000;
/** The pull request workflow looks three times, the last 3 s after the first in the bench (SNAPKEEPER_MERGE_LOOKS, 60 s by default). */
const PULL_REQUEST_TIMEOUT_MS = 180_000;
const CONCURRENCY = 8;

/** What a phase leaves to count. */
export interface PhaseRecord {
  kind: LifecycleKind | 'reconcile';
  /** Lifecycles ended the way of this kind. */
  lifecycles: number;
  /** Workflows counted whole (every run). */
  wholeWorkflows: string[];
  /** Workflows counted only within windows of time (a replacement chain's steady state). */
  windows: Array<{ workflowId: string; fromMs: number; toMs: number }>;
  /** Workflows started in the phase that are not its lifecycles (left out of the count). */
  excluded: string[];
  /** The budget workflows (host ids) whose events in [startMs, endMs] count for this phase. */
  budgetHosts: string[];
  startMs: number;
  endMs: number;
  /** Lookups made; how many recorded their use is read from the histories. */
  lookups: number;
}

export interface LifecycleHost {
  hostId: string;
}

async function images(ctx: BenchContext, projectId: string, n: number, tag: string): Promise<BenchImage[]> {
  return commitImages(ctx.docker, {
    baseImage: ctx.environment.baseImage,
    repository: `bench-b7-${tag}/${ctx.run}`,
    ids: Array.from({ length: n }, (_, i) => ({ projectId, workItemId: `item-${i}` })),
  });
}

async function register(ctx: BenchContext, img: BenchImage, host: string, extra: object = {}): Promise<void> {
  await ctx.stack.api.register({
    projectId: img.projectId,
    workItemId: img.workItemId,
    image: img.image,
    host,
    ttlSeconds: TTL_SECONDS,
    ...extra,
  });
}

/** The one lookup of a lifecycle, late enough to record its use (see TTL_SECONDS). */
async function lookUp(ctx: BenchContext, img: BenchImage): Promise<void> {
  await sleep(LOOKUP_AFTER_MS);
  const found = await ctx.stack.api.lookup(img.projectId, img.workItemId);
  if (found?.imageId !== img.imageId)
    throw new Error(`B7: lookup of ${img.workItemId} did not find its image`);
}

async function gone(ctx: BenchContext, img: BenchImage): Promise<void> {
  await ctx.events.deleted(img.imageId, GONE_TIMEOUT_MS);
}

function workflowOf(img: BenchImage): string {
  return snapshotWorkflowId(img.projectId, img.workItemId);
}

/** n snapshots that expire: register, look up, wait for the TTL. */
export async function ttlPhase(ctx: BenchContext, n: number): Promise<PhaseRecord> {
  const projectId = `b7-ttl-${ctx.run}`;
  const imgs = await images(ctx, projectId, n, 'ttl');
  const startMs = Date.now();
  await mapLimit(imgs, CONCURRENCY, async (img) => {
    await register(ctx, img, ctx.stack.hostId);
    await lookUp(ctx, img);
    await gone(ctx, img);
    await waitClosed(ctx.stack.client, workflowOf(img), GONE_TIMEOUT_MS);
  });
  return whole('ttl', imgs.map(workflowOf), [ctx.stack.hostId], startMs, n);
}

/** n snapshots linked to a pull request each, ended by its signed merge webhook. */
export async function mergePhase(ctx: BenchContext, n: number): Promise<PhaseRecord> {
  const projectId = `b7-merge-${ctx.run}`;
  const repository = `bench/b7-${ctx.run}`;
  const imgs = await images(ctx, projectId, n, 'merge');
  const startMs = Date.now();
  const pullRequests: string[] = [];
  await mapLimit(imgs, CONCURRENCY, async (img, i) => {
    const pr = { repository, number: i + 1 };
    pullRequests.push(mergedPullRequestWorkflowId(pr));
    await register(ctx, img, ctx.stack.hostId, { pullRequest: pr });
    await lookUp(ctx, img);
    const delivery = mergeDelivery({
      secret: ctx.stack.secret,
      repository,
      number: pr.number,
      headRef: `feature/${img.workItemId}`,
      mergedAt: new Date(),
    });
    const res = await post(`${ctx.stack.baseUrl}/webhooks/github`, delivery.headers, delivery.body);
    if (res.status !== 202) throw new Error(`B7: merge webhook answered ${res.status}: ${res.text}`);
    await gone(ctx, img);
    await waitClosed(ctx.stack.client, workflowOf(img), GONE_TIMEOUT_MS);
  });
  // The pull request workflows look again (after 1 and 3 s in the bench's stack): their whole cost is counted.
  await Promise.all(pullRequests.map((id) => waitClosed(ctx.stack.client, id, PULL_REQUEST_TIMEOUT_MS)));
  return whole('merge', [...imgs.map(workflowOf), ...pullRequests], [ctx.stack.hostId], startMs, n);
}

/** n snapshots invalidated through the API (DELETE /v1/snapshots/…). */
export async function invalidatePhase(ctx: BenchContext, n: number): Promise<PhaseRecord> {
  const projectId = `b7-invalidate-${ctx.run}`;
  const imgs = await images(ctx, projectId, n, 'invalidate');
  const startMs = Date.now();
  await mapLimit(imgs, CONCURRENCY, async (img) => {
    await register(ctx, img, ctx.stack.hostId);
    await lookUp(ctx, img);
    if (!(await ctx.stack.api.invalidate(img.projectId, img.workItemId, 'bench B7')))
      throw new Error(`B7: invalidate of ${img.workItemId} found no snapshot`);
    await gone(ctx, img);
    await waitClosed(ctx.stack.client, workflowOf(img), GONE_TIMEOUT_MS);
  });
  return whole('invalidate', imgs.map(workflowOf), [ctx.stack.hostId], startMs, n);
}

/**
 * n snapshots evicted by the budget: on a host that may keep one snapshot, each registration
 * evicts the one before it. The n+1-th (the last one, not evicted) is counted with none of its own
 * history; it is ended after the phase, outside its window.
 */
export async function evictPhase(ctx: BenchContext, n: number, host: LifecycleHost): Promise<PhaseRecord> {
  const projectId = `b7-evict-${ctx.run}`;
  const imgs = await images(ctx, projectId, n + 1, 'evict');
  const startMs = Date.now();
  for (let i = 0; i <= n; i++) {
    const img = imgs[i]!;
    await register(ctx, img, host.hostId);
    if (i > 0) {
      const evicted = imgs[i - 1]!;
      await gone(ctx, evicted);
      await waitClosed(ctx.stack.client, workflowOf(evicted), GONE_TIMEOUT_MS);
    }
    if (i < n) await lookUp(ctx, img);
  }
  await waitSettled(ctx.stack.client, workflowOf(imgs[n]!), GONE_TIMEOUT_MS);
  const record = {
    ...whole('evict', imgs.slice(0, n).map(workflowOf), [host.hostId], startMs, n),
    excluded: [workflowOf(imgs[n]!)],
  };
  await ctx.stack.api.invalidate(projectId, imgs[n]!.workItemId, 'bench B7: the last one of the chain');
  await gone(ctx, imgs[n]!);
  return record;
}

/**
 * Replacements in `chains` work items, `perChain` each: every registration of a work item's next
 * commit replaces (and removes) the one before. A replaced snapshot's lifecycle is counted as its
 * workflow's events from one registration to the next (the steady state of a work item whose jobs
 * follow each other), so the chain's first registration (the workflow's start) and its last
 * image's ending are not in it.
 */
export async function replacePhase(
  ctx: BenchContext,
  chains: number,
  perChain: number,
): Promise<PhaseRecord> {
  const projectId = `b7-replace-${ctx.run}`;
  const all = await commitImages(ctx.docker, {
    baseImage: ctx.environment.baseImage,
    repository: `bench-b7-replace/${ctx.run}`,
    ids: Array.from({ length: chains * (perChain + 1) }, (_, i) => ({
      projectId,
      workItemId: `item-${i % chains}`,
    })),
  });
  const startMs = Date.now();
  const windows: PhaseRecord['windows'] = [];
  await mapLimit(
    Array.from({ length: chains }, (_, c) => c),
    CONCURRENCY,
    async (c) => {
      const chain = Array.from({ length: perChain + 1 }, (_, k) => all[k * chains + c]!);
      const workflowId = workflowOf(chain[0]!);
      const marks: number[] = [];
      // Window k-1 runs from just before registration k to when the workflow has settled after
      // lookup k: one registration, one replacement removal, one lookup.
      for (let k = 0; k <= perChain; k++) {
        const img = chain[k]!;
        if (k > 0) marks.push(Date.now());
        await register(ctx, img, ctx.stack.hostId);
        if (k > 0) await gone(ctx, chain[k - 1]!);
        await lookUp(ctx, img);
        await waitSettled(ctx.stack.client, workflowId, GONE_TIMEOUT_MS);
      }
      marks.push(Date.now());
      for (let k = 0; k < perChain; k++) windows.push({ workflowId, fromMs: marks[k]!, toMs: marks[k + 1]! });
    },
  );
  const endMs = Date.now();
  for (let c = 0; c < chains; c++) {
    const last = all[perChain * chains + c]!;
    await ctx.stack.api.invalidate(projectId, last.workItemId, 'bench B7: the last one of the chain');
    await gone(ctx, last);
  }
  return {
    kind: 'replace',
    lifecycles: chains * perChain,
    wholeWorkflows: [],
    windows,
    excluded: [],
    budgetHosts: [ctx.stack.hostId],
    startMs,
    endMs,
    lookups: chains * perChain,
  };
}

function whole(
  kind: LifecycleKind,
  workflows: string[],
  budgetHosts: string[],
  startMs: number,
  n: number,
): PhaseRecord {
  return {
    kind,
    lifecycles: n,
    wholeWorkflows: workflows,
    windows: [],
    excluded: [],
    budgetHosts,
    startMs,
    endMs: Date.now(),
    lookups: n,
  };
}
