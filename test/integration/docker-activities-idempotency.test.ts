import type Dockerode from 'dockerode';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DockerActivities } from '../../src/activities/docker-activities.js';
import { createDockerActivities } from '../../src/activities/docker-activities.js';
import { createDockerPort, createDockerode } from '../../src/docker/dockerode-adapter.js';
import { createLogger } from '../../src/logging/logger.js';
import { imageExists, makeSnapshotImage, runContainerFrom } from '../support/snapshot-images.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';

// The activities against the real private engine, each run twice in a row: a retry after a lost
// answer must see the same outcome, or "already done".
let docker: Dockerode;
let acts: DockerActivities;

beforeAll(() => {
  docker = newDocker();
  acts = createDockerActivities({
    docker: createDockerPort(createDockerode(testEnv().dockerHost)),
    log: createLogger({ level: 'silent' }),
  });
});

describe('docker activities on a real engine', () => {
  it('inspectSnapshotImage gives the same facts twice', async () => {
    const ids = uniqueIds('idem-inspect');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const a = await acts.inspectSnapshotImage({ ...ids, image: img.image });
    const b = await acts.inspectSnapshotImage({ ...ids, image: img.image });
    expect(a).toEqual(b);
    expect(a.imageId).toBe(img.imageId);
    await docker.getImage(img.imageId).remove();
  });

  it('invalidateSnapshot then removeSnapshotImage, each twice', async () => {
    const ids = uniqueIds('idem-remove');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    // A second reference keeps the image after its reuse reference goes (the last one would take it).
    await docker.getImage(img.imageId).tag({ repo: 'snapkeeper-test/extra', tag: ids.workItemId });
    const input = { ...ids, image: img.image, imageId: img.imageId };
    expect(await acts.invalidateSnapshot(input)).toBe('untagged');
    expect(await acts.invalidateSnapshot(input)).toBe('already-gone');
    expect(await imageExists(docker, img.image)).toBe(false);
    expect(await imageExists(docker, img.imageId)).toBe(true);
    const first = await acts.removeSnapshotImage(input);
    const second = await acts.removeSnapshotImage(input);
    expect([first.outcome, second.outcome]).toEqual(['removed', 'already-gone']);
    expect(await imageExists(docker, img.imageId)).toBe(false);
  });

  it('an image in use stays in-use on every attempt, and its reuse reference still goes', async () => {
    const ids = uniqueIds('idem-inuse');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const container = await runContainerFrom(docker, img.image);
    const input = { ...ids, image: img.image, imageId: img.imageId };
    expect(await acts.invalidateSnapshot(input)).toBe('untagged');
    expect(await imageExists(docker, img.image)).toBe(false);
    const a = await acts.removeSnapshotImage(input);
    const b = await acts.removeSnapshotImage(input);
    expect(a).toEqual({ outcome: 'in-use', holders: [container.id] });
    expect(b).toEqual(a);
    await container.stop();
    expect((await acts.removeSnapshotImage(input)).outcome).toBe('removed');
    expect(await imageExists(docker, img.imageId)).toBe(false);
  });

  it('retireSnapshotImage twice: the untag of the last reference removes the image, then nothing is left', async () => {
    const ids = uniqueIds('idem-retire');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const input = { ...ids, image: img.image, imageId: img.imageId, references: [img.image] };
    // What the removal freed is measured by the engine (freed-bytes.test.ts checks the figure).
    expect(await acts.retireSnapshotImage(input)).toEqual({
      step: 'remove',
      result: expect.objectContaining({ outcome: 'removed', holders: [] }) as object,
    });
    expect(await imageExists(docker, img.imageId)).toBe(false);
    expect(await acts.retireSnapshotImage(input)).toEqual({
      step: 'remove',
      result: { outcome: 'already-gone', holders: [] },
    });
  });

  it('retireSnapshotImage of an image a container uses: the reuse reference goes, the image stays in-use', async () => {
    const ids = uniqueIds('idem-retire-inuse');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const container = await runContainerFrom(docker, img.image);
    const input = { ...ids, image: img.image, imageId: img.imageId, references: [img.image] };
    expect(await acts.retireSnapshotImage(input)).toEqual({
      step: 'remove',
      result: { outcome: 'in-use', holders: [container.id] },
    });
    expect(await imageExists(docker, img.image)).toBe(false);
    expect(await imageExists(docker, img.imageId)).toBe(true);
    await container.stop();
    expect((await acts.retireSnapshotImage(input)).step).toBe('remove');
    expect(await imageExists(docker, img.imageId)).toBe(false);
  });

  it('an unmanaged image is refused by every activity and survives', async () => {
    const { canaryImage, canaryImageId } = testEnv();
    const ids = uniqueIds('idem-canary');
    for (let i = 0; i < 2; i++) {
      await expect(acts.inspectSnapshotImage({ ...ids, image: canaryImage })).rejects.toMatchObject({
        type: 'UnmanagedImage',
      });
      await expect(
        acts.invalidateSnapshot({ ...ids, image: canaryImage, imageId: canaryImageId }),
      ).rejects.toMatchObject({
        type: 'UnmanagedImage',
      });
      await expect(acts.removeSnapshotImage({ ...ids, imageId: canaryImageId })).rejects.toMatchObject({
        type: 'UnmanagedImage',
        nonRetryable: true,
      });
    }
    expect(await imageExists(docker, canaryImageId)).toBe(true);
  });
});
