// What a removal freed, as the engine itself counts it: `docker system df`'s LayersSize (every layer
// an image references, each counted once) before and after the removal. Summing image sizes would
// count shared layers again and again (kubernetes#68203): the difference of the engine's own total
// cannot. The removals of this process are measured one at a time, so none counts another's bytes;
// anything else that changed the engine's images meanwhile (a commit, a pull, another client's rmi)
// is detected, and the removal is then credited with an estimate, said to be one.
import type { DockerPort, ImageInfo, LayerUsage } from './docker-port.js';

export interface FreedBytes {
  bytes: number;
  /**
   * `measured`: LayersSize before less after, and nothing but this removal changed the engine's
   * images in between. `estimated`: something else did; the bytes are the image's own layers as the
   * engine listed them before (its size less what it shared, and less its parent's size).
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
   * Runs `remove` between two measurements, after every earlier measured removal of this meter has
   * finished. `removed` names the image the removal deleted (undefined: none, nothing is measured).
   * A failure to measure never fails the removal: `onError` hears of it and `freed` is undefined.
   */
  measure<T>(remove: () => Promise<T>, removed: (result: T) => ImageInfo | undefined): Promise<Measured<T>>;
}

export function createFreedBytesMeter(docker: DockerPort, onError: (err: unknown) => void): FreedBytesMeter {
  // One removal at a time: two removals measured at once would each see the other's bytes go.
  let tail: Promise<unknown> = Promise.resolve();

  async function usage(): Promise<LayerUsage | undefined> {
    try {
      return await docker.layerUsage?.();
    } catch (err) {
      onError(err);
      return undefined;
    }
  }

  async function measureOne<T>(
    remove: () => Promise<T>,
    removed: (result: T) => ImageInfo | undefined,
  ): Promise<Measured<T>> {
    const before = docker.layerUsage ? await usage() : undefined;
    const result = await remove();
    const image = removed(result);
    if (!before || !image) return { result, freed: undefined };
    const after = await usage();
    if (!after) return { result, freed: undefined };
    try {
      return { result, freed: await freedBetween(docker, image, before, after) };
    } catch (err) {
      onError(err);
      return { result, freed: undefined };
    }
  }

  return {
    measure(remove, removed) {
      const run = tail.then(() => measureOne(remove, removed));
      tail = run.then(
        () => undefined,
        () => undefined,
      );
      return run;
    },
  };
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
