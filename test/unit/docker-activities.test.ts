import { ApplicationFailure } from '@temporalio/common';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDockerActivities } from '../../src/activities/docker-activities.js';
import { createLogger } from '../../src/logging/logger.js';
import { managedLabels } from '../../src/contract/names.js';
import { FakeDocker } from './fake-docker.js';

const owner = { projectId: 'p1', workItemId: 'w1' };
const ID = 'sha256:' + 'a'.repeat(64);

describe('docker activities', () => {
  let docker: FakeDocker;
  let acts: ReturnType<typeof createDockerActivities>;

  beforeEach(() => {
    docker = new FakeDocker();
    acts = createDockerActivities({ docker, log: createLogger({ level: 'silent' }) });
  });

  it('inspect accepts a managed image of the work item', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    const facts = await acts.inspectSnapshotImage({ ...owner, image: 'snap/p1:w1' });
    expect(facts.imageId).toBe(ID);
  });

  it('inspect refuses a missing image and an image of another work item, non-retryably', async () => {
    await expect(acts.inspectSnapshotImage({ ...owner, image: 'nope:1' })).rejects.toMatchObject({
      type: 'ImageNotFound',
      nonRetryable: true,
    });
    docker.addImage(ID, ['snap/p1:w2'], managedLabels('p1', 'w2'));
    const err = await acts.inspectSnapshotImage({ ...owner, image: 'snap/p1:w2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'UnmanagedImage', nonRetryable: true });
  });

  it('remove refuses an unmanaged image and leaves it', async () => {
    docker.addImage(ID, ['base:1'], {});
    await expect(acts.removeSnapshotImage({ ...owner, imageId: ID })).rejects.toMatchObject({
      type: 'UnmanagedImage',
    });
    expect(docker.images.has(ID)).toBe(true);
  });

  it('remove is idempotent: removed, then already-gone', async () => {
    docker.addImage(ID, ['snap/p1:w1', 'extra:1'], managedLabels('p1', 'w1'));
    // Both references are the snapshot's own (recorded at registration).
    const references = ['snap/p1:w1', 'extra:1'];
    expect(await acts.removeSnapshotImage({ ...owner, imageId: ID, references })).toEqual({
      outcome: 'removed',
      holders: [],
    });
    expect(await acts.removeSnapshotImage({ ...owner, imageId: ID, references })).toEqual({
      outcome: 'already-gone',
      holders: [],
    });
    expect(docker.images.size).toBe(0);
  });

  it('remove reports in-use while a container holds the image and never forces', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    docker.containers.push({ id: 'c1', imageId: ID, state: 'running', names: ['/c1'] });
    expect(await acts.removeSnapshotImage({ ...owner, imageId: ID })).toEqual({
      outcome: 'in-use',
      holders: ['c1'],
    });
    expect(docker.images.has(ID)).toBe(true);
  });

  it('remove of a parent of a newer snapshot reports held-by-children', async () => {
    const child = 'sha256:' + 'b'.repeat(64);
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    docker.addImage(child, ['snap/p1:w1-2'], managedLabels('p1', 'w1'), ID);
    const result = await acts.removeSnapshotImage({ ...owner, imageId: ID });
    expect(result).toEqual({ outcome: 'held-by-children', holders: [child] });
    expect(docker.images.get(ID)?.repoTags).toEqual([]);
  });

  it('invalidate removes the reuse tag only while it still names the image', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    const other = 'sha256:' + 'c'.repeat(64);
    docker.addImage(other, ['snap/p1:next'], managedLabels('p1', 'w1'));
    expect(await acts.invalidateSnapshot({ ...owner, image: 'snap/p1:next', imageId: ID })).toBe(
      'already-gone',
    );
    expect(docker.images.get(other)?.repoTags).toEqual(['snap/p1:next']);
    expect(await acts.invalidateSnapshot({ ...owner, image: 'snap/p1:w1', imageId: ID })).toBe('untagged');
    expect(await acts.invalidateSnapshot({ ...owner, image: 'snap/p1:w1', imageId: ID })).toBe(
      'already-gone',
    );
  });

  it('invalidate keeps an in-use image behind a holding tag instead of forcing', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    docker.containers.push({ id: 'c1', imageId: ID, state: 'running', names: ['/c1'] });
    expect(await acts.invalidateSnapshot({ ...owner, image: 'snap/p1:w1', imageId: ID })).toBe('untagged');
    expect(docker.images.get(ID)?.repoTags).toEqual([`snapkeeper/held:${'a'.repeat(64)}`]);
  });

  it('retire runs both steps in one activity, and again finds nothing to do', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    const input = { ...owner, image: 'snap/p1:w1', imageId: ID, references: ['snap/p1:w1'] };
    expect(await acts.retireSnapshotImage(input)).toEqual({
      step: 'remove',
      result: { outcome: 'removed', holders: [] },
    });
    expect(docker.images.size).toBe(0);
    expect(await acts.retireSnapshotImage(input)).toEqual({
      step: 'remove',
      result: { outcome: 'already-gone', holders: [] },
    });
  });

  it('retire stops at the step a container blocks, untagged and not forced', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    docker.containers.push({ id: 'c1', imageId: ID, state: 'running', names: ['/c1'] });
    const input = { ...owner, image: 'snap/p1:w1', imageId: ID, references: ['snap/p1:w1'] };
    expect(await acts.retireSnapshotImage(input)).toEqual({
      step: 'remove',
      result: { outcome: 'in-use', holders: ['c1'] },
    });
    expect(docker.images.get(ID)?.repoTags).toEqual([`snapkeeper/held:${'a'.repeat(64)}`]);
  });

  it('inspect reports budget headroom only when the host says so', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    expect((await acts.inspectSnapshotImage({ ...owner, image: 'snap/p1:w1' })).budgetHeadroom).toBe(false);
    const asked: Array<{ projectId: string; sizeBytes: number }> = [];
    const roomy = createDockerActivities({
      docker,
      log: createLogger({ level: 'silent' }),
      headroom: async (input) => {
        asked.push(input);
        return true;
      },
    });
    expect((await roomy.inspectSnapshotImage({ ...owner, image: 'snap/p1:w1' })).budgetHeadroom).toBe(true);
    expect(asked).toEqual([{ projectId: 'p1', sizeBytes: docker.images.get(ID)?.sizeBytes }]);
  });
});
