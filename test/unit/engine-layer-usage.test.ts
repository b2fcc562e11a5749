import { describe, expect, it } from 'vitest';
import { DockerError } from '../../src/docker/docker-port.js';
import { parseLayerUsage } from '../../src/docker/dockerode-adapter.js';

const HEX = '06c9faace4f96acf3036cda0606f2a9588636987ff6056037af6badc9c10693b';

describe('docker system df of an engine that does not count its layers', () => {
  it("refuses Podman's LayersSize 0 beside images that hold bytes, so no removal claims a measured 0", () => {
    // Podman 4.3.1's answer on this machine (vfs), trimmed: bare hex ids, LayersSize 0.
    const podman = {
      LayersSize: 0,
      Images: [{ Id: HEX, Size: 2131075, SharedSize: 0, RepoTags: ['latest'] }],
    };
    expect(() => parseLayerUsage(podman)).toThrow(DockerError);
  });

  it('takes an empty engine, and answers ids in the sha256: form', () => {
    expect(parseLayerUsage({ LayersSize: 0, Images: [] })).toEqual({ layersSize: 0, images: [] });
    expect(parseLayerUsage({ LayersSize: 10, Images: [{ Id: HEX, Size: 10, SharedSize: -1 }] })).toEqual({
      layersSize: 10,
      images: [{ id: `sha256:${HEX}`, sizeBytes: 10, sharedBytes: 0 }],
    });
  });
});
