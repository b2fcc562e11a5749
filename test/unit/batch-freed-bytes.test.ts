// A batch of orphan removals is measured once (df before and after the batch), and credited with the
// difference only when nothing but its removals changed the engine's images.
import { describe, expect, it } from 'vitest';
import { freedByBatch, measureBatch } from '../../src/activities/batch-freed-bytes.js';
import type { DockerPort, ImageInfo, LayerUsage } from '../../src/docker/docker-port.js';

const image = (id: string, layerIds: string[]): ImageInfo => ({
  id,
  repoTags: [],
  labels: {},
  sizeBytes: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  parentId: '',
  repoDigests: [],
  comment: '',
  layers: layerIds.length,
  layerIds,
});

function fakeDocker(usages: LayerUsage[], inspect: Record<string, ImageInfo> = {}) {
  let dfCalls = 0;
  const docker = {
    layerUsage: () => Promise.resolve(usages[Math.min(dfCalls++, usages.length - 1)] as LayerUsage),
    inspectImage: (id: string) => Promise.resolve(inspect[id] ?? null),
  } as unknown as DockerPort;
  return { docker, dfCalls: () => dfCalls };
}

const listed = (id: string, sizeBytes: number, sharedBytes = 0) => ({ id, sizeBytes, sharedBytes });

describe('measureBatch', () => {
  it('measures a whole batch with two df calls, and credits it with the difference', async () => {
    const before = {
      layersSize: 1000,
      images: [listed('a', 300, 100), listed('b', 200, 100), listed('base', 100)],
    };
    const after = { layersSize: 600, images: [listed('base', 100)] };
    const { docker, dfCalls } = fakeDocker([before, after]);
    const removed = [image('a', ['l0', 'la']), image('b', ['l0', 'lb'])];
    const out = await measureBatch(
      docker,
      () => Promise.resolve('done'),
      () => removed,
      () => {},
    );
    expect(out).toEqual({ result: 'done', freed: { bytes: 400, measure: 'measured' } });
    expect(dfCalls()).toBe(2);
  });

  it('is not credited with what something else removed meanwhile: an estimate, said to be one', async () => {
    const before = { layersSize: 1000, images: [listed('a', 300, 100), listed('other', 500)] };
    const after = { layersSize: 200, images: [] };
    const out = await freedByBatch(fakeDocker([]).docker, [image('a', ['l0', 'la'])], before, after);
    expect(out).toEqual({ bytes: 200, measure: 'estimated' });
  });

  it('accepts a retired parent that appears with only the layers the batch held', async () => {
    const before = { layersSize: 1000, images: [listed('child', 300)] };
    const after = { layersSize: 900, images: [listed('parent', 200)] };
    const parent = image('parent', ['l0']);
    const { docker } = fakeDocker([], { parent });
    expect(await freedByBatch(docker, [image('child', ['l0', 'lc'])], before, after)).toEqual({
      bytes: 100,
      measure: 'measured',
    });
    const stranger = image('parent', ['l9']);
    expect(
      (
        await freedByBatch(
          fakeDocker([], { parent: stranger }).docker,
          [image('child', ['l0', 'lc'])],
          before,
          after,
        )
      ).measure,
    ).toBe('estimated');
  });

  it('measures nothing when nothing was removed, and never fails the removals when df does', async () => {
    const { docker, dfCalls } = fakeDocker([{ layersSize: 1, images: [] }]);
    expect(
      await measureBatch(
        docker,
        () => Promise.resolve(1),
        () => [],
        () => {},
      ),
    ).toEqual({
      result: 1,
      freed: undefined,
    });
    expect(dfCalls()).toBe(1);
    const errors: unknown[] = [];
    const failing = { layerUsage: () => Promise.reject(new Error('no df')) } as unknown as DockerPort;
    const out = await measureBatch(
      failing,
      () => Promise.resolve(2),
      () => [image('a', [])],
      (e) => errors.push(e),
    );
    expect(out).toEqual({ result: 2, freed: undefined });
    expect(errors).toHaveLength(1);
  });
});
