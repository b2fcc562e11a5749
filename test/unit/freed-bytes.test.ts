// The freed-bytes measure (src/docker/freed-bytes.ts): the engine's LayersSize difference when only
// the removal changed the engine's images, an estimate said to be one otherwise, removals of one
// meter measured one at a time, and a failing df never failing a removal.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import type { DockerPort, ImageInfo, LayerUsage } from '../../src/docker/docker-port.js';
import { parseLayerUsage } from '../../src/docker/dockerode-adapter.js';
import { createFreedBytesMeter, freedBetween } from '../../src/docker/freed-bytes.js';
import { parseContainerEvent } from '../../src/docker/container-events.js';

function image(id: string, layerIds: string[], sizeBytes: number, parentId = ''): ImageInfo {
  return {
    id,
    repoTags: [],
    labels: {},
    sizeBytes,
    createdAt: new Date(0).toISOString(),
    parentId,
    repoDigests: [],
    comment: '',
    layers: layerIds.length,
    layerIds,
  };
}

/** Only what the measure reads: inspect by id, and df from a script of answers. */
function engine(
  images: ImageInfo[],
  usages: Array<LayerUsage | Error> = [],
): DockerPort & { dfCalls: number } {
  const byId = new Map(images.map((i) => [i.id, i]));
  const port = {
    dfCalls: 0,
    inspectImage: async (ref: string) => byId.get(ref) ?? null,
    removeImage: async () => 'removed' as const,
    tagImage: async () => undefined,
    listImages: async () => [],
    listContainers: async () => [],
    dataRoot: async () => '/var/lib/docker',
    layerUsage: async () => {
      const next = usages[port.dfCalls++];
      if (!next) throw new Error('no more df answers scripted');
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return port;
}

const usage = (layersSize: number, ...images: Array<[string, number, number]>): LayerUsage => ({
  layersSize,
  images: images.map(([id, sizeBytes, sharedBytes]) => ({ id, sizeBytes, sharedBytes })),
});

describe('freedBetween', () => {
  const removed = image('sha256:c', ['l1', 'l2', 'l3'], 300, 'sha256:p');

  it('is the difference of the totals when only the removed image went', async () => {
    const before = usage(1000, ['sha256:c', 300, 200], ['sha256:base', 100, 100]);
    const after = usage(900, ['sha256:base', 100, 100]);
    expect(await freedBetween(engine([]), removed, before, after)).toEqual({
      bytes: 100,
      measure: 'measured',
    });
  });

  it('stays exact when a parent appears that holds none but its layers', async () => {
    const parent = image('sha256:p', ['l1', 'l2'], 200);
    const before = usage(1000, ['sha256:c', 300, 100]);
    const after = usage(700, ['sha256:p', 200, 100]);
    expect(await freedBetween(engine([parent]), removed, before, after)).toEqual({
      bytes: 300,
      measure: 'measured',
    });
  });

  it('estimates when another image appeared (a commit meanwhile): its own bytes, never the difference', async () => {
    const parent = image('sha256:p', ['l1', 'l2'], 200);
    const commit = image('sha256:new', ['l1', 'lx'], 5000);
    const before = usage(1000, ['sha256:c', 300, 100]);
    // The commit added 4,900 bytes while 100 went: the difference would be negative.
    const after = usage(5800, ['sha256:new', 5000, 100]);
    expect(await freedBetween(engine([parent, commit]), removed, before, after)).toEqual({
      bytes: 100,
      measure: 'estimated',
    });
  });

  it('estimates when another image went meanwhile (someone else ran rmi)', async () => {
    const before = usage(1000, ['sha256:c', 300, 250], ['sha256:other', 400, 0]);
    const after = usage(500);
    expect(await freedBetween(engine([]), removed, before, after)).toEqual({
      bytes: 50,
      measure: 'estimated',
    });
  });
});

describe('createFreedBytesMeter', () => {
  it('measures removals of one meter one at a time', async () => {
    const a = image('sha256:a', ['la'], 10);
    const b = image('sha256:b', ['lb'], 20);
    const docker = engine(
      [],
      [
        usage(130, ['sha256:a', 10, 0], ['sha256:b', 20, 0]),
        usage(120, ['sha256:b', 20, 0]),
        usage(120, ['sha256:b', 20, 0]),
        usage(100),
      ],
    );
    const order: string[] = [];
    const meter = createFreedBytesMeter(docker, (err) => {
      throw err;
    });
    const removal = (name: string) => async () => {
      order.push(`${name} starts`);
      await new Promise((resolve) => setImmediate(resolve));
      order.push(`${name} ends`);
      return name;
    };
    const [ra, rb] = await Promise.all([
      meter.measure(removal('a'), () => a),
      meter.measure(removal('b'), () => b),
    ]);
    expect(order).toEqual(['a starts', 'a ends', 'b starts', 'b ends']);
    expect(ra.freed).toEqual({ bytes: 10, measure: 'measured' });
    expect(rb.freed).toEqual({ bytes: 20, measure: 'measured' });
  });

  it('removals that come while a batch is measured run together in the next one: two df calls for them all', async () => {
    const [a, b, c] = [
      image('sha256:a', ['la'], 10),
      image('sha256:b', ['lb'], 20),
      image('sha256:c', ['lc'], 40),
    ];
    const docker = engine(
      [],
      [
        usage(170, ['sha256:a', 10, 0], ['sha256:b', 20, 0], ['sha256:c', 40, 0], ['sha256:base', 100, 0]),
        usage(160, ['sha256:b', 20, 0], ['sha256:c', 40, 0], ['sha256:base', 100, 0]),
        usage(160, ['sha256:b', 20, 0], ['sha256:c', 40, 0], ['sha256:base', 100, 0]),
        usage(100, ['sha256:base', 100, 0]),
      ],
    );
    const order: string[] = [];
    const meter = createFreedBytesMeter(docker, (err) => {
      throw err;
    });
    const removal = (name: string) => async () => {
      order.push(`${name} starts`);
      await new Promise((resolve) => setImmediate(resolve));
      order.push(`${name} ends`);
      return name;
    };
    const [ra, rb, rc] = await Promise.all([
      meter.measure(removal('a'), () => a),
      meter.measure(removal('b'), () => b),
      meter.measure(removal('c'), () => c),
    ]);
    // a alone (it found no batch under way); b and c waited for it, then ran side by side.
    expect(order).toEqual(['a starts', 'a ends', 'b starts', 'c starts', 'b ends', 'c ends']);
    expect(docker.dfCalls).toBe(4);
    expect(ra.freed).toEqual({ bytes: 10, measure: 'measured' });
    // The batch's 60 bytes, split by the engine's per-image account, which adds up to it.
    expect(rb.freed).toEqual({ bytes: 20, measure: 'measured' });
    expect(rc.freed).toEqual({ bytes: 40, measure: 'measured' });
  });

  it("each removal of a batch runs in its own caller's async context (its activity's), not the drain's", async () => {
    const context = new AsyncLocalStorage<string>();
    const docker = engine([], [usage(10), usage(10)]);
    const meter = createFreedBytesMeter(docker, (err) => {
      throw err;
    });
    const seen: Array<string | undefined> = [];
    const removal = async () => {
      seen.push(context.getStore());
      return 'kept';
    };
    await Promise.all(
      ['activity a', 'activity b', 'activity c'].map((name) =>
        context.run(name, () => meter.measure(removal, () => undefined)),
      ),
    );
    expect(seen).toEqual(['activity a', 'activity b', 'activity c']);
  });

  it('a batch whose shares do not add up to its difference is split as estimates that do', async () => {
    // b and c shared a layer (15 bytes) no other image held: it counts in neither's own bytes.
    const [a, b, c] = [
      image('sha256:a', ['la'], 10),
      image('sha256:b', ['ls', 'lb'], 35),
      image('sha256:c', ['ls', 'lc'], 55),
    ];
    const docker = engine(
      [],
      [
        usage(175, ['sha256:a', 10, 0], ['sha256:b', 35, 15], ['sha256:c', 55, 15], ['sha256:base', 100, 0]),
        usage(165, ['sha256:b', 35, 15], ['sha256:c', 55, 15], ['sha256:base', 100, 0]),
        usage(165, ['sha256:b', 35, 15], ['sha256:c', 55, 15], ['sha256:base', 100, 0]),
        usage(100, ['sha256:base', 100, 0]),
      ],
    );
    const meter = createFreedBytesMeter(docker, (err) => {
      throw err;
    });
    const [, rb, rc] = await Promise.all([
      meter.measure(
        async () => 'a',
        () => a,
      ),
      meter.measure(
        async () => 'b',
        () => b,
      ),
      meter.measure(
        async () => 'c',
        () => c,
      ),
    ]);
    expect(rb.freed?.measure).toBe('estimated');
    expect(rc.freed?.measure).toBe('estimated');
    expect((rb.freed?.bytes ?? 0) + (rc.freed?.bytes ?? 0)).toBe(65);
    expect(rb.freed?.bytes).toBeGreaterThanOrEqual(20);
    expect(rc.freed?.bytes).toBeGreaterThanOrEqual(40);
  });

  it('in a batch, a removal that fails or removes nothing leaves the others measured', async () => {
    const [b, c] = [image('sha256:b', ['lb'], 20), image('sha256:c', ['lc'], 40)];
    const docker = engine(
      [],
      [
        usage(160, ['sha256:b', 20, 0], ['sha256:c', 40, 0], ['sha256:base', 100, 0]),
        usage(160, ['sha256:b', 20, 0], ['sha256:c', 40, 0], ['sha256:base', 100, 0]),
        usage(120, ['sha256:b', 20, 0], ['sha256:base', 100, 0]),
      ],
    );
    const meter = createFreedBytesMeter(docker, (err) => {
      throw err;
    });
    const first = meter.measure(
      async () => 'kept',
      () => undefined,
    );
    const failing = meter.measure(
      async () => {
        throw new Error('409');
      },
      () => b,
    );
    const [rb, rc, rk] = await Promise.allSettled([
      failing,
      meter.measure(
        async () => 'c',
        () => c,
      ),
      meter.measure(
        async () => 'kept too',
        () => undefined,
      ),
    ]);
    expect((await first).freed).toBeUndefined();
    expect(rb).toMatchObject({ status: 'rejected' });
    // b failed and stayed: the difference is c's alone.
    expect(rc).toMatchObject({
      status: 'fulfilled',
      value: { result: 'c', freed: { bytes: 40, measure: 'measured' } },
    });
    expect(rk).toMatchObject({ status: 'fulfilled', value: { result: 'kept too', freed: undefined } });
  });

  it('a failing df leaves the removal unmeasured, never failed; nothing removed, nothing measured after', async () => {
    const errors: unknown[] = [];
    const docker = engine([], [new Error('df failed'), usage(10)]);
    const meter = createFreedBytesMeter(docker, (err) => errors.push(err));
    const first = await meter.measure(
      async () => 'done',
      () => image('sha256:a', [], 1),
    );
    expect(first).toEqual({ result: 'done', freed: undefined });
    expect(errors).toHaveLength(1);
    const second = await meter.measure(
      async () => 'kept',
      () => undefined,
    );
    expect(second).toEqual({ result: 'kept', freed: undefined });
    // One df before the second removal, none after it: nothing was removed.
    expect(docker.dfCalls).toBe(2);
  });

  it('a removal that fails still lets the next one run', async () => {
    const docker = engine([], [usage(10), usage(10)]);
    const meter = createFreedBytesMeter(docker, () => undefined);
    await expect(
      meter.measure(
        async () => {
          throw new Error('409');
        },
        () => undefined,
      ),
    ).rejects.toThrow('409');
    expect(
      (
        await meter.measure(
          async () => 'next',
          () => undefined,
        )
      ).result,
    ).toBe('next');
  });
});

describe('engine answers', () => {
  it('parseLayerUsage reads LayersSize and the images, and refuses an answer without the total', () => {
    expect(
      parseLayerUsage({
        LayersSize: 42,
        Images: [
          { Id: 'sha256:a', Size: 10, SharedSize: -1 },
          { Size: 3 },
          { Id: 'sha256:b', Size: 5, SharedSize: 2 },
        ],
      }),
    ).toEqual({
      layersSize: 42,
      images: [
        { id: 'sha256:a', sizeBytes: 10, sharedBytes: 0 },
        { id: 'sha256:b', sizeBytes: 5, sharedBytes: 2 },
      ],
    });
    expect(() => parseLayerUsage({ Images: [] })).toThrow(/LayersSize/);
  });

  it('parseContainerEvent takes container creates and starts only', () => {
    const line = (o: object) => JSON.stringify(o);
    expect(
      parseContainerEvent(
        line({
          Type: 'container',
          Action: 'start',
          Actor: { ID: 'c1', Attributes: { image: 'snap:1' } },
          time: 7,
        }),
      ),
    ).toEqual({ containerId: 'c1', action: 'start', image: 'snap:1', time: 7 });
    expect(
      parseContainerEvent(
        line({ Type: 'container', Action: 'die', Actor: { ID: 'c1', Attributes: { image: 'x' } } }),
      ),
    ).toBeUndefined();
    expect(
      parseContainerEvent(line({ Type: 'image', Action: 'create', Actor: { ID: 'i' } })),
    ).toBeUndefined();
    expect(parseContainerEvent('not json')).toBeUndefined();
  });
});
