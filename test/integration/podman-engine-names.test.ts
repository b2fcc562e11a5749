import type Dockerode from 'dockerode';
import { beforeAll, describe, expect, it } from 'vitest';
import { testEngineKind } from '../../scripts/lib/docker-engine.js';
import type { DockerActivities } from '../../src/activities/docker-activities.js';
import { createDockerActivities } from '../../src/activities/docker-activities.js';
import { heldTag } from '../../src/contract/names.js';
import type { DockerPort } from '../../src/docker/docker-port.js';
import { createDockerPort, createDockerode } from '../../src/docker/dockerode-adapter.js';
import { createLogger } from '../../src/logging/logger.js';
import { imageExists, makeSnapshotImage, runContainerFrom } from '../support/snapshot-images.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';

// snapkeeper's Docker layer answers in Docker's forms whichever engine serves the API: `sha256:`
// ids, familiar names, no digest that is only a tag's shadow. On dockerd these hold as the engine
// answers; on Podman (SNAPKEEPER_TEST_ENGINE=podman, where the engine answers bare hex parents,
// `docker.io/`-qualified names and a digest per tagged repository) they hold only through
// src/docker/engine-names.ts, and each test below failed there without it.
let docker: Dockerode;
let port: DockerPort;
let acts: DockerActivities;

beforeAll(() => {
  docker = newDocker();
  port = createDockerPort(createDockerode(testEnv().dockerHost));
  acts = createDockerActivities({ docker: port, log: createLogger({ level: 'silent' }) });
});

describe('the Docker layer on this engine answers in Docker forms', () => {
  it('ids, parents, names and containers', async () => {
    const ids = uniqueIds('names');
    const parent = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const child = await makeSnapshotImage(docker, { ...ids, labels: 'managed', fromImage: parent.image });
    expect(parent.imageId).toMatch(/^sha256:[a-f0-9]{64}$/);
    await docker.getImage(parent.imageId).tag({ repo: 'snapkeeper-test/names-extra', tag: ids.workItemId });

    const info = await port.inspectImage(parent.image);
    expect(info).toMatchObject({ id: parent.imageId, repoDigests: [] });
    expect([...(info?.repoTags ?? [])].sort()).toEqual(
      [parent.image, `snapkeeper-test/names-extra:${ids.workItemId}`].sort(),
    );
    expect((await port.inspectImage(child.imageId))?.parentId).toBe(parent.imageId);
    const listed = (await port.listImages({ all: true })).find((i) => i.id === child.imageId);
    expect(listed).toMatchObject({ parentId: parent.imageId, repoTags: [child.image], repoDigests: [] });

    const container = await runContainerFrom(docker, child.image);
    try {
      const mine = (await port.listContainers()).find((c) => c.id === container.id);
      expect(mine?.imageId).toBe(child.imageId);
    } finally {
      await container.stop();
    }
    await docker.getImage(child.imageId).remove({ force: true });
    await docker.getImage(parent.imageId).remove({ force: true });
  });

  it('the reuse reference goes while a container runs; the image follows once it is gone', async () => {
    const ids = uniqueIds('names-inuse');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const container = await runContainerFrom(docker, img.image);
    const input = { ...ids, image: img.image, imageId: img.imageId, references: [img.image] };
    expect(await acts.invalidateSnapshot(input)).toBe('untagged');
    expect(await imageExists(docker, img.image)).toBe(false);
    expect((await port.inspectImage(img.imageId))?.repoTags).toEqual([heldTag(img.imageId)]);
    expect(await acts.removeSnapshotImage(input)).toEqual({ outcome: 'in-use', holders: [container.id] });
    await container.stop();
    expect((await acts.removeSnapshotImage(input)).outcome).toBe('removed');
    expect(await imageExists(docker, img.imageId)).toBe(false);
  });

  it('an image with several owned tags goes tag by tag, never by id', async () => {
    const ids = uniqueIds('names-tags');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const second = `snapkeeper-test/names-second:${ids.workItemId}`;
    await docker.getImage(img.imageId).tag({ repo: 'snapkeeper-test/names-second', tag: ids.workItemId });
    const input = { ...ids, image: img.image, imageId: img.imageId, references: [img.image, second] };
    expect(await acts.removeSnapshotImage(input)).toMatchObject({ outcome: 'removed', holders: [] });
    expect(await imageExists(docker, img.imageId)).toBe(false);
  });

  it("a tag snapkeeper does not own keeps the image, under Docker's name for it", async () => {
    const ids = uniqueIds('names-kept');
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const foreign = `snapkeeper-test/names-foreign:${ids.workItemId}`;
    await docker.getImage(img.imageId).tag({ repo: 'snapkeeper-test/names-foreign', tag: ids.workItemId });
    const input = { ...ids, image: img.image, imageId: img.imageId, references: [img.image] };
    expect(await acts.removeSnapshotImage(input)).toEqual({ outcome: 'kept', holders: [foreign] });
    expect(await imageExists(docker, img.image)).toBe(false);
    expect(await imageExists(docker, foreign)).toBe(true);
    await docker.getImage(img.imageId).remove({ force: true });
  });

  it('a retired parent goes with its last child (the parent walk compares full ids)', async () => {
    const ids = uniqueIds('names-walk');
    const parent = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const child = await makeSnapshotImage(docker, { ...ids, labels: 'managed', fromImage: parent.image });
    const parentInput = { ...ids, image: parent.image, imageId: parent.imageId, references: [parent.image] };
    // dockerd keeps an untagged parent for its child; Podman deletes the parent image with its last
    // tag (its layer stays under the child's), so the same untag is a removal there.
    expect(await acts.retireSnapshotImage(parentInput)).toEqual({
      step: 'remove',
      result:
        testEngineKind() === 'podman'
          ? expect.objectContaining({ outcome: 'removed', holders: [] })
          : { outcome: 'held-by-children', holders: [child.imageId] },
    });
    const childInput = { ...ids, image: child.image, imageId: child.imageId, references: [child.image] };
    expect((await acts.retireSnapshotImage(childInput)).step).toBe('remove');
    expect(await imageExists(docker, child.imageId)).toBe(false);
    expect(await imageExists(docker, parent.imageId)).toBe(false);
  });
});
