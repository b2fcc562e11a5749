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

  it('names at most 20 holders, so its answer stays a small payload whatever names or uses the image', async () => {
    const foreign = Array.from({ length: 5000 }, (_, i) => `someone/else:v${i}`);
    docker.addImage(ID, ['snap/p1:w1', ...foreign], managedLabels('p1', 'w1'));
    const kept = await acts.removeSnapshotImage({ ...owner, imageId: ID, references: ['snap/p1:w1'] });
    expect(kept.outcome).toBe('kept');
    expect(kept.holders).toEqual(foreign.slice(0, 20));
    const OTHER = 'sha256:' + 'd'.repeat(64);
    docker.addImage(OTHER, ['snap/p1:w1-b'], managedLabels('p1', 'w1'));
    for (let i = 0; i < 500; i++)
      docker.containers.push({ id: `c${i}`, imageId: OTHER, state: 'running', names: [] });
    const used = await acts.removeSnapshotImage({ ...owner, imageId: OTHER, references: ['snap/p1:w1-b'] });
    expect(used).toMatchObject({ outcome: 'in-use' });
    expect(used.holders).toHaveLength(20);
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

  it('retire removes an image only snapkeeper names with the untag of its last reference', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'), 'sha256:base');
    docker.addImage('sha256:base', ['base:latest'], {});
    const input = { ...owner, image: 'snap/p1:w1', imageId: ID, references: ['snap/p1:w1'] };
    expect(await acts.retireSnapshotImage(input)).toEqual({
      step: 'remove',
      result: { outcome: 'removed', holders: [] },
    });
    // Never by id, no container or image listing: inspect, untag, confirm, then the parent walk.
    expect(docker.calls).toEqual([
      'inspect snap/p1:w1',
      'remove snap/p1:w1',
      `inspect ${ID}`,
      'inspect sha256:base',
    ]);
    expect(docker.images.has('sha256:base')).toBe(true);
  });

  it('retire untags the held tag last when an earlier attempt left one', async () => {
    docker.addImage(ID, ['snap/p1:w1', `snapkeeper/held:${'a'.repeat(64)}`], managedLabels('p1', 'w1'));
    const input = { ...owner, image: 'snap/p1:w1', imageId: ID, references: ['snap/p1:w1'] };
    expect((await acts.retireSnapshotImage(input)).step).toBe('remove');
    expect(docker.calls.filter((c) => c.startsWith('remove'))).toEqual([
      'remove snap/p1:w1',
      `remove snapkeeper/held:${'a'.repeat(64)}`,
    ]);
    expect(docker.images.size).toBe(0);
  });

  it('retire keeps an image another reference names, through the step-wise path', async () => {
    docker.addImage(ID, ['snap/p1:w1', 'someone/else:v1'], managedLabels('p1', 'w1'));
    const input = { ...owner, image: 'snap/p1:w1', imageId: ID, references: ['snap/p1:w1'] };
    expect(await acts.retireSnapshotImage(input)).toEqual({
      step: 'remove',
      result: { outcome: 'kept', holders: ['someone/else:v1'] },
    });
    expect(docker.images.get(ID)?.repoTags).toContain('someone/else:v1');
    expect(docker.images.get(ID)?.repoTags).not.toContain('snap/p1:w1');
  });

  it('retire of a parent of a newer snapshot reports held-by-children after the untag', async () => {
    const CHILD = 'sha256:' + 'c'.repeat(64);
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    docker.addImage(CHILD, ['snap/p1:w1-next'], managedLabels('p1', 'w1'), ID);
    const input = { ...owner, image: 'snap/p1:w1', imageId: ID, references: ['snap/p1:w1'] };
    expect(await acts.retireSnapshotImage(input)).toEqual({
      step: 'remove',
      result: { outcome: 'held-by-children', holders: [CHILD] },
    });
    expect(docker.images.has(ID)).toBe(true);
    expect(docker.images.get(CHILD)?.repoTags).toEqual(['snap/p1:w1-next']);
  });

  it('retire refuses an image of another work item under the registered tag, and leaves it', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'other'));
    const input = { ...owner, image: 'snap/p1:w1', imageId: ID, references: ['snap/p1:w1'] };
    await expect(acts.retireSnapshotImage(input)).rejects.toMatchObject({
      type: 'UnmanagedImage',
      nonRetryable: true,
    });
    expect(docker.images.get(ID)?.repoTags).toEqual(['snap/p1:w1']);
    expect(docker.calls.some((c) => c.startsWith('remove'))).toBe(false);
  });

  it('retire leaves a tag that now names a newer image alone and removes the registered id', async () => {
    const NEWER = 'sha256:' + 'b'.repeat(64);
    docker.addImage(ID, [`snapkeeper/held:${'a'.repeat(64)}`], managedLabels('p1', 'w1'));
    docker.addImage(NEWER, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    const input = { ...owner, image: 'snap/p1:w1', imageId: ID, references: ['snap/p1:w1'] };
    expect((await acts.retireSnapshotImage(input)).step).toBe('remove');
    expect(docker.images.has(ID)).toBe(false);
    expect(docker.images.get(NEWER)?.repoTags).toEqual(['snap/p1:w1']);
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
        return 'far';
      },
    });
    const far = await roomy.inspectSnapshotImage({ ...owner, image: 'snap/p1:w1' });
    expect(far.budgetHeadroom).toBe(true);
    expect(far.budgetUncounted).toBeUndefined();
    expect(asked).toEqual([{ projectId: 'p1', sizeBytes: docker.images.get(ID)?.sizeBytes }]);
  });

  it('inspect says when the budget need not count the image (no count or byte limit, disk far)', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    const free = createDockerActivities({
      docker,
      log: createLogger({ level: 'silent' }),
      headroom: async () => 'uncounted',
    });
    const facts = await free.inspectSnapshotImage({ ...owner, image: 'snap/p1:w1' });
    expect(facts.budgetHeadroom).toBe(true);
    expect(facts.budgetUncounted).toBe(true);
  });
});
