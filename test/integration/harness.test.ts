import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { LABEL_MANAGED, LABEL_PROJECT, LABEL_WORK_ITEM } from '../../src/contract/names.js';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/contract/search-attributes.js';
import { imageExists, makeSnapshotImage, runContainerFrom } from '../support/snapshot-images.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';

// CommonJS package: under Node's ESM loader its namespaces exist only on the default export.
const { IndexedValueType } = proto.temporal.api.enums.v1;

// Proves the harness itself, so that a failure elsewhere points at snapkeeper and not at the setup.
describe('integration harness', () => {
  it('talks to the private engine, never the default one', async () => {
    const env = testEnv();
    expect(env.dockerHost).toMatch(/^unix:\/\//);
    expect(env.dockerHost).not.toBe('unix:///var/run/docker.sock');
    const info = await newDocker().info();
    expect(info.DockerRootDir).toContain(env.workDir);
  });

  it('runs a container from the base image', async () => {
    const docker = newDocker();
    const container = await docker.createContainer({
      Image: testEnv().baseImage,
      Cmd: ['sh', '-c', 'echo hello-from-busybox; ls /bin/sleep /bin/dd /bin/cat >/dev/null'],
      HostConfig: { NetworkMode: 'none' },
    });
    try {
      await container.start();
      expect(await container.wait()).toMatchObject({ StatusCode: 0 });
      const logs = await container.logs({ stdout: true, stderr: true });
      expect(logs.toString('utf8')).toContain('hello-from-busybox');
    } finally {
      await container.remove({ force: true });
    }
  });

  it('makes distinct snapshot images with the managed labels', async () => {
    const docker = newDocker();
    const ids = uniqueIds('harness');
    const first = await makeSnapshotImage(docker, { ...ids, labels: 'managed', bytes: 32 * 1024 });
    const second = await makeSnapshotImage(docker, { ...ids, labels: 'managed', bytes: 32 * 1024 });
    expect(first.imageId).not.toBe(second.imageId);

    const inspected = await docker.getImage(first.image).inspect();
    expect(inspected.Id).toBe(first.imageId);
    expect(inspected.Config.Labels).toMatchObject({
      [LABEL_MANAGED]: 'true',
      [LABEL_PROJECT]: ids.projectId,
      [LABEL_WORK_ITEM]: ids.workItemId,
    });
    expect(inspected.Size).toBeGreaterThan(32 * 1024);

    const unlabelled = await makeSnapshotImage(docker, { ...ids, labels: 'none' });
    expect((await docker.getImage(unlabelled.imageId).inspect()).Config.Labels ?? {}).not.toHaveProperty(
      LABEL_MANAGED,
    );

    // A running container blocks removal with 409, which the removal tests rely on.
    const running = await runContainerFrom(docker, first.image);
    try {
      await expect(docker.getImage(first.imageId).remove()).rejects.toMatchObject({ statusCode: 409 });
    } finally {
      await running.stop();
    }
    for (const img of [first, second, unlabelled]) await docker.getImage(img.imageId).remove({ force: true });
    await waitFor(async () => !(await imageExists(docker, first.imageId)), {
      timeoutMs: 10_000,
      message: 'image not removed',
    });
    expect(await imageExists(docker, second.imageId)).toBe(false);
    expect(await imageExists(docker, 'snapkeeper-test/does-not-exist:nope')).toBe(false);
  });

  it('keeps the canary and base images in place', async () => {
    const docker = newDocker();
    const env = testEnv();
    expect(await imageExists(docker, env.canaryImageId)).toBe(true);
    expect(await imageExists(docker, env.baseImageId)).toBe(true);
    const canary = await docker.getImage(env.canaryImage).inspect();
    expect(canary.Config.Labels ?? {}).not.toHaveProperty(LABEL_MANAGED);
  });

  it('registers the search attributes in every namespace of the dev server', async () => {
    const env = testEnv();
    expect(env.temporalNamespaces).toEqual(expect.arrayContaining(['default', 'snapkeeper-durability']));
    const connection = await Connection.connect({ address: env.temporalAddress });
    try {
      const expected = {
        Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
        Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
      };
      for (const namespace of env.temporalNamespaces) {
        const listed = await connection.operatorService.listSearchAttributes({ namespace });
        for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_TYPES)) {
          expect(listed.customAttributes?.[name], `${name} in ${namespace}`).toBe(expected[type]);
        }
      }
    } finally {
      await connection.close();
    }
  });
});
