// The Docker activities' handling of references, with the fake engine: resolution of every form,
// kept images, removal through snapkeeper's own held tag, the parent walk, 409s while untagging,
// and engine failures during registration.
import { beforeEach, describe, expect, it } from 'vitest';
import { createDockerActivities } from '../../src/activities/docker-activities.js';
import { createLogger } from '../../src/logging/logger.js';
import { heldTag, keptTag, managedLabels } from '../../src/contract/names.js';
import { FakeDocker } from './fake-docker.js';

const owner = { projectId: 'p1', workItemId: 'w1' };
const id = (c: string) => `sha256:${c.repeat(64)}`;
const ID = id('a');

describe('docker activities: references', () => {
  let docker: FakeDocker;
  let acts: ReturnType<typeof createDockerActivities>;

  beforeEach(() => {
    docker = new FakeDocker();
    acts = createDockerActivities({ docker, log: createLogger({ level: 'silent' }) });
  });

  it('resolves a tag, a short id, a full id with and without sha256:, and a digest to the full id', async () => {
    const digest = `snap/p1@sha256:${'d'.repeat(64)}`;
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'), '', { repoDigests: [digest], layers: 7 });
    docker.addImage(id('b'), ['other:1'], managedLabels('p1', 'w1'));
    for (const ref of ['snap/p1:w1', 'a'.repeat(12), ID, 'a'.repeat(64), digest]) {
      const facts = await acts.inspectSnapshotImage({ ...owner, image: ref });
      expect(facts.imageId).toBe(ID);
      expect(facts.layerDepth).toBe(7);
      expect(facts.references).toContain('snap/p1:w1');
    }
    // A tagged image needs no reference of snapkeeper's while it is current.
    expect(docker.images.get(ID)?.repoTags).toEqual(['snap/p1:w1']);
  });

  it('an image no reference names gets the held tag at registration, so it is never untagged while current', async () => {
    docker.addImage(ID, [], managedLabels('p1', 'w1'));
    const facts = await acts.inspectSnapshotImage({ ...owner, image: 'a'.repeat(12) });
    expect(facts.references).toEqual([]);
    expect(docker.images.get(ID)?.repoTags).toEqual([heldTag(ID)]);
  });

  it('refuses an unknown reference and an ambiguous one, non-retryably', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    docker.addImage(`sha256:${'a'.repeat(12)}${'e'.repeat(52)}`, [], managedLabels('p1', 'w1'));
    await expect(acts.inspectSnapshotImage({ ...owner, image: 'a'.repeat(12) })).rejects.toMatchObject({
      type: 'AmbiguousReference',
      nonRetryable: true,
      message: expect.stringContaining('names 2 images'),
    });
    // A repository named like another image's id prefix.
    docker.addImage(id('c'), ['cccccccccccc:latest'], managedLabels('p1', 'w1'));
    docker.addImage(`sha256:${'c'.repeat(12)}${'f'.repeat(52)}`, [], managedLabels('p1', 'w1'));
    await expect(acts.inspectSnapshotImage({ ...owner, image: 'c'.repeat(12) })).rejects.toMatchObject({
      type: 'AmbiguousReference',
    });
    await expect(acts.inspectSnapshotImage({ ...owner, image: '0123456789ab' })).rejects.toMatchObject({
      type: 'ImageNotFound',
      nonRetryable: true,
    });
    await expect(
      acts.inspectSnapshotImage({ ...owner, image: `snap/p1@sha256:${'9'.repeat(64)}` }),
    ).rejects.toMatchObject({ type: 'ImageNotFound' });
  });

  it('an engine that fails or does not answer is EngineUnavailable (retryable); a 4xx is a bad reference', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    for (const status of [500, 503, 0]) {
      docker.failWith = status;
      await expect(acts.inspectSnapshotImage({ ...owner, image: 'snap/p1:w1' })).rejects.toMatchObject({
        type: 'EngineUnavailable',
        nonRetryable: false,
        message: expect.stringContaining('retry later'),
      });
    }
    docker.failWith = 400;
    await expect(acts.inspectSnapshotImage({ ...owner, image: 'snap/p1:w1' })).rejects.toMatchObject({
      type: 'ImageNotFound',
      nonRetryable: true,
    });
  });

  it('a snapshot registered by id leaves the disk with its commit tag, deleted by untagging its held tag', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    const facts = await acts.inspectSnapshotImage({ ...owner, image: 'a'.repeat(12) });
    const input = { ...owner, image: 'a'.repeat(12), imageId: ID, references: facts.references };
    expect(await acts.invalidateSnapshot(input)).toBe('already-gone');
    docker.calls = [];
    expect(await acts.removeSnapshotImage(input)).toEqual({ outcome: 'removed', holders: [] });
    expect(docker.images.has(ID)).toBe(false);
    expect(docker.calls.filter((c) => c.startsWith('remove'))).toEqual([
      'remove snap/p1:w1',
      `remove ${heldTag(ID)}`,
    ]);
  });

  it('a tag snapkeeper does not own keeps the image: kept, its own references gone, the other untouched', async () => {
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'));
    const facts = await acts.inspectSnapshotImage({ ...owner, image: 'snap/p1:w1' });
    await docker.tagImage(ID, 'base/ci', 'v2'); // someone promotes it
    const input = { ...owner, image: 'snap/p1:w1', imageId: ID, references: facts.references };
    expect(await acts.invalidateSnapshot(input)).toBe('untagged');
    const first = await acts.removeSnapshotImage(input);
    expect(first).toEqual({ outcome: 'kept', holders: ['base/ci:v2'] });
    expect(docker.images.get(ID)?.repoTags.sort()).toEqual(['base/ci:v2', keptTag(ID)].sort());
    // Idempotent: a retry sees the same.
    expect(await acts.removeSnapshotImage(input)).toEqual(first);
    expect(docker.calls).not.toContain('remove base/ci:v2');
  });

  it('a 409 while untagging the reuse reference is a removal block with its holder', async () => {
    docker.addImage(ID, ['snap/p1:w1', heldTag(ID)], managedLabels('p1', 'w1'));
    docker.containers.push({ id: 'c1', imageId: ID, state: 'running', names: ['/c1'] });
    docker.conflictOn.add('snap/p1:w1');
    expect(await acts.invalidateSnapshot({ ...owner, image: 'snap/p1:w1', imageId: ID })).toEqual({
      outcome: 'in-use',
      holders: ['c1'],
    });
    docker.containers = [];
    const blocked = await acts.invalidateSnapshot({ ...owner, image: 'snap/p1:w1', imageId: ID });
    expect(blocked).toMatchObject({ outcome: 'blocked', reason: expect.stringContaining('conflict') });
    docker.conflictOn.clear();
    expect(await acts.invalidateSnapshot({ ...owner, image: 'snap/p1:w1', imageId: ID })).toBe('untagged');
  });

  it('a 409 while removing its references is a removal block too', async () => {
    docker.addImage(ID, ['snap/p1:w1', heldTag(ID)], managedLabels('p1', 'w1'));
    docker.conflictOn.add(heldTag(ID));
    const result = await acts.removeSnapshotImage({ ...owner, imageId: ID, references: ['snap/p1:w1'] });
    expect(result).toMatchObject({ outcome: 'blocked', reason: expect.stringContaining('conflict') });
    expect(docker.images.has(ID)).toBe(true);
  });

  it('the parent walk takes a retired untagged parent, and never one a current snapshot holds', async () => {
    const parent = id('p');
    const child = id('c');
    // Retired: untagged, its layers held by the child.
    docker.addImage(parent, [], managedLabels('p1', 'w1'));
    docker.addImage(child, ['snap/p1:c', heldTag(child)], managedLabels('p1', 'w1'), parent);
    expect(
      (await acts.removeSnapshotImage({ ...owner, imageId: child, references: ['snap/p1:c'] })).outcome,
    ).toBe('removed');
    expect(docker.images.has(parent)).toBe(false);

    // Rolled back to: the parent is current again (held tag), so the child's removal leaves it.
    docker.addImage(parent, [], managedLabels('p1', 'w1'));
    await acts.inspectSnapshotImage({ ...owner, image: parent });
    docker.addImage(child, ['snap/p1:c', heldTag(child)], managedLabels('p1', 'w1'), parent);
    expect(
      (await acts.removeSnapshotImage({ ...owner, imageId: child, references: ['snap/p1:c'] })).outcome,
    ).toBe('removed');
    expect(docker.images.get(parent)?.repoTags).toEqual([heldTag(parent)]);
    // ...and it goes when its own snapshot ends.
    expect((await acts.removeSnapshotImage({ ...owner, imageId: parent, references: [] })).outcome).toBe(
      'removed',
    );
    expect(docker.images.has(parent)).toBe(false);
  });

  it('the parent walk leaves a parent of another work item while a snapshot holds it', async () => {
    const parent = id('q');
    docker.addImage(parent, [heldTag(parent)], managedLabels('p1', 'other'));
    docker.addImage(ID, ['snap/p1:w1'], managedLabels('p1', 'w1'), parent);
    await acts.removeSnapshotImage({ ...owner, imageId: ID, references: ['snap/p1:w1'] });
    expect(docker.images.has(parent)).toBe(true);
  });
});
