import { beforeEach, describe, expect, it } from 'vitest';
import { createReconcileHostActivities } from '../../src/activities/reconcile-host-activities.js';
import { openSnapshotsQuery } from '../../src/service/snapshot-owners.js';
import { createDockerActivities } from '../../src/activities/docker-activities.js';
import { createLogger } from '../../src/logging/logger.js';
import { LABEL_MANAGED, heldTag, managedLabels, reapingTag } from '../../src/contract/names.js';
import { FakeDocker } from './fake-docker.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const id = (c: string) => `sha256:${c.repeat(64)}`;
const minutesAgo = (m: number) => new Date(NOW - m * 60_000).toISOString();

describe('reconcile host activities', () => {
  let docker: FakeDocker;
  let acts: ReturnType<typeof createReconcileHostActivities>;

  beforeEach(() => {
    docker = new FakeDocker();
    acts = createReconcileHostActivities({ docker, log: createLogger({ level: 'silent' }), now: () => NOW });
  });

  function add(c: string, tags: string[], labels: Record<string, string>, ageMinutes: number, parentId = '') {
    docker.addImage(id(c), tags, labels, parentId);
    docker.images.get(id(c))!.createdAt = minutesAgo(ageMinutes);
  }

  it('fences orphan candidates so a registration refuses them, and unfences spared ones without deleting them', async () => {
    add('a', ['snap/p:w'], managedLabels('p', 'w'), 15);
    add('b', [], managedLabels('p', 'w2'), 15);
    add('c', ['base:latest'], {}, 500);
    expect(await acts.fenceOrphanImages({ imageIds: [id('a'), id('b'), id('c'), id('9')] })).toEqual([
      id('a'),
      id('b'),
    ]);
    expect(docker.images.get(id('a'))?.repoTags).toEqual([
      'snap/p:w',
      `snapkeeper/reaping:${'a'.repeat(64)}`,
    ]);
    expect(docker.images.get(id('c'))?.repoTags).toEqual(['base:latest']);

    const docker2 = createDockerActivities({ docker, log: createLogger({ level: 'silent' }) });
    await expect(
      docker2.inspectSnapshotImage({ projectId: 'p', workItemId: 'w', image: 'snap/p:w' }),
    ).rejects.toMatchObject({
      type: 'InvalidRequest',
      nonRetryable: true,
      message: expect.stringContaining('being removed by the reconciler'),
    });

    await acts.unfenceImages({ imageIds: [id('a'), id('b')] });
    expect(docker.images.get(id('a'))?.repoTags).toEqual(['snap/p:w']);
    // The fence is b's only reference: taking it off would delete the image.
    expect(docker.images.get(id('b'))?.repoTags).toEqual([`snapkeeper/reaping:${'b'.repeat(64)}`]);
  });

  it('lists only managed images, with their owners and ages on the host clock', async () => {
    add('a', ['snap/p:w'], managedLabels('p', 'w'), 15);
    add('b', ['base:latest'], {}, 500);
    add('c', [], { [LABEL_MANAGED]: 'true' }, 1);
    add('d', ['x:y'], { [LABEL_MANAGED]: 'false' }, 100);
    const page = await acts.listManagedImagesPage({ listing: 'run', after: null, limit: 100 });
    expect(page.next).toBeNull();
    expect(page.total).toBe(2);
    expect(page.images).toEqual([
      expect.objectContaining({
        imageId: id('a'),
        tags: ['snap/p:w'],
        projectId: 'p',
        workItemId: 'w',
        ageSeconds: 900,
      }),
      expect.objectContaining({ imageId: id('c'), projectId: null, workItemId: null, ageSeconds: 60 }),
    ]);
  });

  it('removes an old orphan: its tags, then the image by untagging its own held tag, never forced', async () => {
    add('a', ['snap/p:w', reapingTag(id('a'))], managedLabels('p', 'w'), 15);
    const result = await acts.removeOrphanImage({ imageId: id('a'), orphanGraceSeconds: 600 });
    expect(result.outcome).toBe('removed');
    expect(docker.images.has(id('a'))).toBe(false);
    expect(docker.calls.filter((c) => c.startsWith('remove'))).toEqual([
      'remove snap/p:w',
      `remove ${reapingTag(id('a'))}`,
      `remove ${heldTag(id('a'))}`,
    ]);
  });

  it('keeps an old orphan that two tags name (neither attributable) and touches neither', async () => {
    add('a', ['snap/p:w', 'snap/p:alias'], managedLabels('p', 'w'), 15);
    const result = await acts.removeOrphanImage({ imageId: id('a'), orphanGraceSeconds: 600 });
    expect(result).toEqual({ outcome: 'kept', holders: ['snap/p:w', 'snap/p:alias'] });
    expect(docker.images.get(id('a'))?.repoTags).toEqual(['snap/p:w', 'snap/p:alias']);
  });

  it('removes a batch, each image on its own checks', async () => {
    add('a', ['snap/p:a'], managedLabels('p', 'a'), 15);
    add('b', ['snap/p:b'], managedLabels('p', 'b'), 1);
    const results = await acts.removeOrphanImages({
      imageIds: [id('a'), id('b'), id('c')],
      orphanGraceSeconds: 600,
    });
    expect(results.map((r) => r.outcome)).toEqual(['removed', 'too-young', 'already-gone']);
    expect([...docker.images.keys()]).toEqual([id('b')]);
  });

  it('counts a 404 as success', async () => {
    expect(await acts.removeOrphanImage({ imageId: id('z'), orphanGraceSeconds: 0 })).toEqual({
      outcome: 'already-gone',
      holders: [],
    });
  });

  it('re-checks the label and the age before removing', async () => {
    add('a', ['base:latest'], {}, 500);
    add('b', ['snap/p:w'], managedLabels('p', 'w'), 5);
    expect((await acts.removeOrphanImage({ imageId: id('a'), orphanGraceSeconds: 0 })).outcome).toBe(
      'unmanaged',
    );
    expect((await acts.removeOrphanImage({ imageId: id('b'), orphanGraceSeconds: 600 })).outcome).toBe(
      'too-young',
    );
    expect(docker.images.size).toBe(2);
    expect(docker.calls.some((c) => c.startsWith('remove'))).toBe(false);
  });

  it('reports an image a container uses as in-use, and leaves it', async () => {
    add('a', ['snap/p:w'], managedLabels('p', 'w'), 15);
    docker.containers.push({ id: 'c'.repeat(64), imageId: id('a'), state: 'exited', names: ['/x'] });
    const result = await acts.removeOrphanImage({ imageId: id('a'), orphanGraceSeconds: 600 });
    expect(result).toEqual({ outcome: 'in-use', holders: ['c'.repeat(64)] });
    expect(docker.images.get(id('a'))?.repoTags).toEqual(['snap/p:w']);
  });

  it('reports an untagged parent of another image as held by children', async () => {
    add('a', [], managedLabels('p', 'w'), 15);
    add('b', ['snap/p:w2'], managedLabels('p', 'w2'), 10, id('a'));
    const result = await acts.removeOrphanImage({ imageId: id('a'), orphanGraceSeconds: 600 });
    expect(result).toEqual({ outcome: 'held-by-children', holders: [id('b')] });
    expect(docker.images.has(id('a'))).toBe(true);
  });

  it('finds the images the engine no longer has', async () => {
    add('a', ['snap/p:w'], managedLabels('p', 'w'), 15);
    expect(await acts.findMissingImages({ imageIds: [id('a'), id('b')] })).toEqual([id('b')]);
  });

  it('builds visibility queries only from valid host ids', () => {
    expect(openSnapshotsQuery('h-1')).toBe(
      "WorkflowType = 'snapshotWorkflow' AND ExecutionStatus = 'Running' AND SnapshotHost = 'h-1'",
    );
    expect(() => openSnapshotsQuery("x' OR '1'='1")).toThrow(/invalid host id/);
  });
});
