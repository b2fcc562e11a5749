import { describe, expect, it } from 'vitest';
import { engineReferences, familiarReference, fullImageId } from '../../src/docker/engine-names.js';

const HEX = 'df668b13b17127512e1eaef4a7d83749fb6b20010af1b7e029730e60c424ab71';
const DIGEST = 'sha256:fd4b6907c41697b1dd1a54d8fc8484e6be02f3679d07bff4604d113a205b18d3';

describe('engine names', () => {
  it('gives a bare hex id (Podman) its sha256: prefix and leaves every other form alone', () => {
    expect(fullImageId(HEX)).toBe(`sha256:${HEX}`);
    expect(fullImageId(`sha256:${HEX}`)).toBe(`sha256:${HEX}`);
    expect(fullImageId('')).toBe('');
    expect(fullImageId(HEX.slice(0, 12))).toBe(HEX.slice(0, 12));
  });

  it("lists Docker Hub's qualified names in Docker's familiar form, other registries as they are", () => {
    expect(familiarReference('docker.io/library/x:latest')).toBe('x:latest');
    expect(familiarReference('docker.io/snapkeeper/held:abc')).toBe('snapkeeper/held:abc');
    expect(familiarReference(`docker.io/team/x@${DIGEST}`)).toBe(`team/x@${DIGEST}`);
    expect(familiarReference('docker.io/library/team/x:1')).toBe('library/team/x:1');
    expect(familiarReference('localhost/x:1')).toBe('localhost/x:1');
    expect(familiarReference('registry:5000/x:1')).toBe('registry:5000/x:1');
    expect(familiarReference('x:1')).toBe('x:1');
  });

  it("drops Podman's digest of a tagged repository, keeps Docker's, and keeps a digest without a tag", () => {
    const tags = ['docker.io/snap/a:w1', 'docker.io/snapkeeper/held:abc', '<none>:<none>'];
    const digests = [
      `docker.io/snap/a@${DIGEST}`,
      `docker.io/snapkeeper/held@${DIGEST}`,
      `docker.io/pulled/b@${DIGEST}`,
    ];
    expect(engineReferences(tags, digests, 'podman')).toEqual({
      repoTags: ['snap/a:w1', 'snapkeeper/held:abc'],
      repoDigests: [`pulled/b@${DIGEST}`],
    });
    expect(engineReferences(tags, digests, 'docker')).toEqual({
      repoTags: ['snap/a:w1', 'snapkeeper/held:abc'],
      repoDigests: [`snap/a@${DIGEST}`, `snapkeeper/held@${DIGEST}`, `pulled/b@${DIGEST}`],
    });
    expect(engineReferences(null, ['<none>@<none>'], 'podman')).toEqual({ repoTags: [], repoDigests: [] });
  });

  it("lists Podman's localhost/ names (podman commit, build) by the short name it resolves, Docker's as they are", () => {
    expect(engineReferences(['localhost/loc/x:1'], [`localhost/loc/x@${DIGEST}`], 'podman')).toEqual({
      repoTags: ['loc/x:1'],
      repoDigests: [],
    });
    expect(engineReferences(['localhost/loc/x:1'], [], 'docker').repoTags).toEqual(['localhost/loc/x:1']);
  });
});
