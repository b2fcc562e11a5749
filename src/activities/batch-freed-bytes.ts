// What a batch of orphan removals freed (issue 21), measured as a snapshot removal is: the engine's
// own LayersSize (`docker system df`) before and after. One measure per batch, not per image, so a
// reconcile page of a hundred orphans costs two df calls, not two hundred. The batch is credited
// with the difference only when nothing but its own removals changed the engine's images meanwhile
// (a retired parent that appears in the listing once its last child went holds only layers the
// batch held); otherwise with an estimate, said to be one.
import type { DockerPort, ImageInfo, LayerUsage } from '../docker/docker-port.js';
import type { FreedBytes } from '../docker/freed-bytes.js';
import { batchIsClean } from '../docker/freed-bytes.js';

export interface BatchMeasure<T> {
  result: T;
  /** Undefined when nothing was removed, or the engine could not be measured. */
  freed: FreedBytes | undefined;
}

export async function measureBatch<T>(
  docker: DockerPort,
  remove: () => Promise<T>,
  removed: (result: T) => ImageInfo[],
  onError: (err: unknown) => void,
): Promise<BatchMeasure<T>> {
  const usage = async (): Promise<LayerUsage | undefined> => {
    try {
      return await docker.layerUsage?.();
    } catch (err) {
      onError(err);
      return undefined;
    }
  };
  const before = docker.layerUsage ? await usage() : undefined;
  const result = await remove();
  const images = removed(result);
  if (!before || images.length === 0) return { result, freed: undefined };
  const after = await usage();
  if (!after) return { result, freed: undefined };
  try {
    return { result, freed: await freedByBatch(docker, images, before, after) };
  } catch (err) {
    onError(err);
    return { result, freed: undefined };
  }
}

export async function freedByBatch(
  docker: DockerPort,
  images: ImageInfo[],
  before: LayerUsage,
  after: LayerUsage,
): Promise<FreedBytes> {
  const clean = await batchIsClean(docker, images, before, after);
  if (clean) return { bytes: Math.max(before.layersSize - after.layersSize, 0), measure: 'measured' };
  // Each removed image's size less what it shared, as the engine listed it before: a lower bound
  // (layers the removed images shared only with each other count in none of them).
  const listed = new Map(before.images.map((i) => [i.id, i]));
  let bytes = 0;
  for (const i of images) {
    const l = listed.get(i.id);
    bytes += l ? Math.max(l.sizeBytes - l.sharedBytes, 0) : 0;
  }
  return { bytes, measure: 'estimated' };
}
