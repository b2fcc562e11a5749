// The parent walk (removeRetiredParents, after a snapshot's removal) against a registration of
// that very parent racing it: the walk's list calls are slow, and the registration of the retired
// parent (a rollback, by id) adds snapkeeper's held tag in between. An acknowledged registration
// must keep its image; a registration that comes once the walk is committed to the removal must
// be refused instead of acknowledged.
import { describe, expect, it } from 'vitest';
import { createDockerActivities } from '../../src/activities/docker-activities.js';
import type { ImageInfo } from '../../src/docker/docker-port.js';
import { createLogger } from '../../src/logging/logger.js';
import { heldTag, managedLabels } from '../../src/contract/names.js';
import { FakeDocker } from './fake-docker.js';

const owner = { projectId: 'p1', workItemId: 'w1' };
const PARENT = 'sha256:' + 'a'.repeat(64);
const CHILD = 'sha256:' + 'c'.repeat(64);

/** An engine whose image listing (the walk's last check) and tags run a hook first, once each. */
class SlowListingDocker extends FakeDocker {
  beforeListing: (() => Promise<void>) | undefined;
  beforeTag: ((repository: string) => Promise<void>) | undefined;

  override async listImages(options: { labels?: string[] } = {}): Promise<ImageInfo[]> {
    const hook = this.beforeListing;
    this.beforeListing = undefined;
    if (hook) await hook();
    return super.listImages(options);
  }

  override async tagImage(ref: string, repository: string, tag: string): Promise<void> {
    const hook = this.beforeTag;
    if (hook) await hook(repository);
    return super.tagImage(ref, repository, tag);
  }
}

function setUp() {
  const docker = new SlowListingDocker();
  const acts = createDockerActivities({ docker, log: createLogger({ level: 'silent' }) });
  // The parent was retired while its child kept its layers: untagged, only the child holds it.
  docker.addImage(PARENT, [], managedLabels('p1', 'w1'));
  docker.addImage(CHILD, ['snap/p1:w1-child'], managedLabels('p1', 'w1'), PARENT);
  const removeChild = () =>
    acts.removeSnapshotImage({ ...owner, imageId: CHILD, references: ['snap/p1:w1-child'] });
  const registerParent = () => acts.inspectSnapshotImage({ ...owner, image: PARENT });
  return { docker, removeChild, registerParent };
}

describe('the parent walk against a registration of the parent', () => {
  it('keeps a parent that a registration took while the walk was listing', async () => {
    const { docker, removeChild, registerParent } = setUp();
    let registered: string | undefined;
    docker.beforeListing = async () => {
      registered = (await registerParent()).imageId;
    };
    expect((await removeChild()).outcome).toBe('removed');
    // The registration was acknowledged: its image stays, with the reference the registration added.
    expect(registered).toBe(PARENT);
    expect(docker.images.has(PARENT)).toBe(true);
    expect(docker.images.get(PARENT)?.repoTags).toEqual([heldTag(PARENT)]);
    expect(docker.images.has(CHILD)).toBe(false);
  });

  it('refuses a registration that comes after the walk fenced the parent, and removes it', async () => {
    const { docker, removeChild, registerParent } = setUp();
    let fenced = false;
    let refusal: unknown;
    docker.beforeTag = async (repository) => {
      if (repository === 'snapkeeper/reaping') fenced = true;
    };
    // The registration runs whole between the fence and the walk's look at the fenced parent.
    const inspect = docker.inspectImage.bind(docker);
    docker.inspectImage = async (ref) => {
      if (fenced && refusal === undefined && ref === PARENT) {
        refusal = await registerParent().then(
          () => 'acknowledged',
          (err: unknown) => err,
        );
      }
      return inspect(ref);
    };
    expect((await removeChild()).outcome).toBe('removed');
    expect(refusal).toMatchObject({ type: 'InvalidRequest', nonRetryable: true });
    expect(docker.images.has(PARENT)).toBe(false);
  });

  it('removes a retired parent nothing else took, through its own tag', async () => {
    const { docker, removeChild } = setUp();
    expect((await removeChild()).outcome).toBe('removed');
    expect(docker.images.size).toBe(0);
    expect(docker.calls.some((c) => c === `remove ${PARENT}`)).toBe(false);
  });
});
