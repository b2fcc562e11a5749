// What a removal freed, as the engine itself counts it: `docker system df`'s LayersSize (every layer
// an image references, each counted once) before and after the removal. Summing image sizes would
// count shared layers again and again (kubernetes#68203): the difference of the engine's own total
// cannot. Removals of this process are measured in batches: a removal that comes while a batch is
// being measured waits for it, then runs with every other removal that waited, between one df before
// and one df after them all. One at a time, each removal of a crowded engine paid two df calls in a
// queue (issue 19's B2: 1,000 expiries spent a median 38 s in that queue, against 0.18 s for a raw
// removal); a batch pays two for all of its removals, and a removal that comes alone is measured
// alone, as before. A batch's difference is split by the engine's own per-image account (df's Size
// less SharedSize, before): when the shares add up to the difference, each is exactly what that
// removal freed. Anything else that changed the engine's images meanwhile (a commit, a pull, another
// client's rmi) is detected, and the removals are then credited with estimates, said to be ones.
import { AsyncResource } from 'node:async_hooks';
import type { DockerPort, ImageInfo, LayerUsage } from './docker-port.js';

export interface FreedBytes {
  bytes: number;
  /**
   * `measured`: LayersSize before less after, and nothing but this removal (or its batch, whose
   * per-image shares add up to the difference) changed the engine's images in between. `estimated`:
   * something else did, or the batch's shares did not add up; the bytes are then the image's own
   * layers as the engine listed them before, or its part of the batch's difference.
   */
  measure: 'measured' | 'estimated';
}

export interface Measured<T> {
  result: T;
  /** Undefined when nothing was removed, or the engine could not be measured (its df failed). */
  freed: FreedBytes | undefined;
}

export interface FreedBytesMeter {
  /**
   * Runs `remove` between two measurements, after every earlier batch of this meter has finished,
   * together with the other removals that wait for the same batch. `removed` names the image the
   * removal deleted (undefined: none, nothing is measured). A failure to measure never fails the
   * removal: `onError` hears of it and `freed` is undefined.
   */
  measure<T>(remove: () => Promise<T>, removed: (result: T) => ImageInfo | undefined): Promise<Measured<T>>;
}

/** One removal waiting for its batch, its result type erased so one batch holds any. */
interface Pending {
  remove: () => Promise<unknown>;
  removed: (result: unknown) => ImageInfo | undefined;
  resolve: (measured: Measured<unknown>) => void;
  reject: (err: unknown) => void;
}

export function createFreedBytesMeter(docker: DockerPort, onError: (err: unknown) => void): FreedBytesMeter {
  // No removal runs between a batch's two measurements unless it belongs to the batch: otherwise
  // each would see the other's bytes go.
  let waiting: Pending[] = [];
  let draining = false;

  async function usage(): Promise<LayerUsage | undefined> {
    try {
      return await docker.layerUsage?.();
    } catch (err) {
      onError(err);
      return undefined;
    }
  }

  async function runBatch(batch: Pending[]): Promise<void> {
    const before = docker.layerUsage ? await usage() : undefined;
    const settled = await Promise.allSettled(batch.map((p) => p.remove()));
    const images = settled.map((s, i) => {
      if (s.status !== 'fulfilled') return undefined;
      try {
        return (batch[i] as Pending).removed(s.value);
      } catch (err) {
        onError(err);
        return undefined;
      }
    });
    let freed: Array<FreedBytes | undefined> = images.map(() => undefined);
    if (before && images.some((i) => i !== undefined)) {
      const after = await usage();
      if (after) {
        try {
          freed = await freedEach(docker, images, before, after);
        } catch (err) {
          onError(err);
        }
      }
    }
    settled.forEach((s, i) => {
      const p = batch[i] as Pending;
      if (s.status === 'fulfilled') p.resolve({ result: s.value, freed: freed[i] });
      else p.reject(s.reason);
    });
  }

  async function drain(): Promise<void> {
    draining = true;
    try {
      while (waiting.length > 0) {
        const batch = waiting;
        waiting = [];
        try {
          await runBatch(batch);
        } catch (err) {
          // Only a measurement's own bookkeeping can land here; the removals still get their answers.
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      draining = false;
    }
  }

  return {
    measure<T>(remove: () => Promise<T>, removed: (result: T) => ImageInfo | undefined) {
      return new Promise<Measured<T>>((resolve, reject) => {
        waiting.push({
          // Run where its caller is (its own activity's context), not in the drain's, which is
          // the context of whichever removal started the drain.
          remove: AsyncResource.bind(remove),
          removed: (result) => removed(result as T),
          resolve: (m) => resolve({ result: m.result as T, freed: m.freed }),
          reject,
        });
        if (!draining) void drain();
      });
    },
  };
}

/**
 * What each removal of one batch freed (undefined where it removed nothing). One removal: the
 * difference of the totals (freedBetween). More: the difference split by the engine's per-image
 * account of the images before (size less what it shared with other listed images, which holds its
 * untagged parents' layers that no other listed image holds, as those go with it); measured when
 * nothing else changed the engine's images and the shares add up to the difference, so that no
 * layer was held by two removed images alone.
 */
export async function freedEach(
  docker: DockerPort,
  images: Array<ImageInfo | undefined>,
  before: LayerUsage,
  after: LayerUsage,
): Promise<Array<FreedBytes | undefined>> {
  const removed = images.filter((i): i is ImageInfo => i !== undefined);
  if (removed.length === 1) {
    const one = await freedBetween(docker, removed[0] as ImageInfo, before, after);
    return images.map((i) => (i ? one : undefined));
  }
  if (!(await batchIsClean(docker, removed, before, after))) {
    const own = new Map<string, FreedBytes>();
    for (const i of removed)
      own.set(i.id, { bytes: await ownBytes(docker, i, before), measure: 'estimated' });
    return images.map((i) => (i ? own.get(i.id) : undefined));
  }
  const total = Math.max(before.layersSize - after.layersSize, 0);
  const listed = new Map(before.images.map((i) => [i.id, i]));
  const shares = images.map((i) => {
    const l = i ? listed.get(i.id) : undefined;
    return l ? Math.max(l.sizeBytes - l.sharedBytes, 0) : 0;
  });
  const sum = shares.reduce((a, b) => a + b, 0);
  const exact = sum === total && removed.every((i) => listed.has(i.id));
  if (exact) return images.map((i, k) => (i ? { bytes: shares[k] ?? 0, measure: 'measured' } : undefined));
  return splitEstimate(images, shares, sum, total);
}

/**
 * The batch's measured difference split so that the parts add up to it: in proportion to the
 * shares when they exceed it, else each share and an even part of what no share held (layers that
 * only removed images held). Estimates.
 */
function splitEstimate(
  images: Array<ImageInfo | undefined>,
  shares: number[],
  sum: number,
  total: number,
): Array<FreedBytes | undefined> {
  const count = images.filter((i) => i !== undefined).length;
  const parts = images.map((i, k) => {
    if (!i) return 0;
    const share = shares[k] ?? 0;
    return sum > total ? Math.floor((share * total) / sum) : share + Math.floor((total - sum) / count);
  });
  // What rounding left goes to the last removed image, so the parts add up to the difference.
  const rest = total - parts.reduce((a, b) => a + b, 0);
  let last = -1;
  images.forEach((i, k) => {
    if (i) last = k;
  });
  if (last >= 0) parts[last] = (parts[last] ?? 0) + rest;
  return images.map((i, k) => (i ? { bytes: parts[k] ?? 0, measure: 'estimated' } : undefined));
}

/**
 * Whether nothing but these removals changed the engine's images between the two measurements:
 * every image listed before is listed after unless it was removed, and an image listed only after
 * (a retired parent listed once its last child went) holds no layer the removed images did not.
 */
export async function batchIsClean(
  docker: DockerPort,
  images: ImageInfo[],
  before: LayerUsage,
  after: LayerUsage,
): Promise<boolean> {
  const removedIds = new Set(images.map((i) => i.id));
  const afterIds = new Set(after.images.map((i) => i.id));
  const beforeIds = new Set(before.images.map((i) => i.id));
  if (!before.images.every((i) => afterIds.has(i.id) || removedIds.has(i.id))) return false;
  const theirs = new Set(images.flatMap((i) => i.layerIds ?? []));
  for (const i of after.images) {
    if (beforeIds.has(i.id)) continue;
    const other = await docker.inspectImage(i.id);
    if (!other?.layerIds || !other.layerIds.every((l) => theirs.has(l))) return false;
  }
  return true;
}

/**
 * The difference of the two totals, when the only images that went are the removed one and the only
 * ones that appeared hold no layer it did not hold (its retired parent, listed once it has no child
 * left); otherwise an estimate.
 */
export async function freedBetween(
  docker: DockerPort,
  image: ImageInfo,
  before: LayerUsage,
  after: LayerUsage,
): Promise<FreedBytes> {
  const beforeIds = new Set(before.images.map((i) => i.id));
  const afterIds = new Set(after.images.map((i) => i.id));
  const vanished = [...beforeIds].filter((id) => !afterIds.has(id));
  const appeared = [...afterIds].filter((id) => !beforeIds.has(id));
  let clean = vanished.every((id) => id === image.id);
  if (clean && appeared.length > 0) clean = await onlyItsLayers(docker, image, appeared);
  if (clean) return { bytes: Math.max(before.layersSize - after.layersSize, 0), measure: 'measured' };
  return { bytes: await ownBytes(docker, image, before), measure: 'estimated' };
}

/** Whether every layer of each of these images was a layer of `image` (so they add no bytes). */
async function onlyItsLayers(docker: DockerPort, image: ImageInfo, ids: string[]): Promise<boolean> {
  if (!image.layerIds) return false;
  const its = new Set(image.layerIds);
  for (const id of ids) {
    const other = await docker.inspectImage(id);
    // Gone again already: what it held is unknown.
    if (!other?.layerIds || !other.layerIds.every((l) => its.has(l))) return false;
  }
  return true;
}

/**
 * The image's own bytes as the engine listed them before: its size less the layers it shared with
 * other listed images, and less its parent's size (df does not list an untagged parent, so its
 * layers do not show as shared). A lower bound when its retired parents went with it.
 */
async function ownBytes(docker: DockerPort, image: ImageInfo, before: LayerUsage): Promise<number> {
  const listed = before.images.find((i) => i.id === image.id);
  const size = listed?.sizeBytes ?? image.sizeBytes;
  let own = listed ? size - listed.sharedBytes : size;
  if (image.parentId) {
    const parent = await docker.inspectImage(image.parentId);
    if (parent) own = Math.min(own, size - parent.sizeBytes);
  }
  return Math.max(own, 0);
}
