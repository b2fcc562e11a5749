import Dockerode from 'dockerode';
import type { ContainerInfo, DockerPort, ImageInfo, LayerUsage } from './docker-port.js';
import { DockerError, statusCodeOf } from './docker-port.js';
import type { EngineFlavour } from './engine-names.js';
import { engineReferences, fullImageId } from './engine-names.js';

/** Parses DOCKER_HOST (unix:///path, tcp://host:port, or a bare socket path) for dockerode. */
export function dockerodeOptions(dockerHost: string | undefined): Dockerode.DockerOptions {
  if (!dockerHost) return { socketPath: '/var/run/docker.sock' };
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  if (dockerHost.startsWith('/')) return { socketPath: dockerHost };
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
}

export function createDockerode(dockerHost: string | undefined): Dockerode {
  return new Dockerode(dockerodeOptions(dockerHost));
}

function toDockerError(err: unknown, what: string): DockerError {
  const message = err instanceof Error ? err.message : String(err);
  return new DockerError(`${what}: ${message}`, statusCodeOf(err));
}

/**
 * Which engine serves the API (GET /version names a `Podman Engine` component on Podman), asked
 * once per adapter; a failed ask is asked again at the next call. Podman names images and their
 * digests differently (src/docker/engine-names.ts), which the adapter must know to list them as
 * Docker does.
 */
function engineProbe(docker: Dockerode): () => Promise<EngineFlavour> {
  let known: Promise<EngineFlavour> | undefined;
  return () => {
    known ??= docker.version().then(
      (v): EngineFlavour =>
        (v.Components ?? []).some((c) => c.Name === 'Podman Engine') ? 'podman' : 'docker',
      (err: unknown) => {
        known = undefined;
        throw toDockerError(err, 'docker version');
      },
    );
    return known;
  };
}

export function createDockerPort(docker: Dockerode): DockerPort {
  const flavour = engineProbe(docker);
  return {
    async inspectImage(ref) {
      try {
        const info = await docker.getImage(ref).inspect();
        const refs = engineReferences(info.RepoTags, info.RepoDigests, await flavour());
        return {
          id: fullImageId(info.Id),
          repoTags: refs.repoTags,
          labels: info.Config?.Labels ?? {},
          sizeBytes: info.Size,
          createdAt: info.Created,
          parentId: fullImageId(info.Parent ?? ''),
          repoDigests: refs.repoDigests,
          comment: info.Comment ?? '',
          layers: info.RootFS?.Layers?.length ?? 0,
          layerIds: info.RootFS?.Layers ?? [],
        };
      } catch (err) {
        if (statusCodeOf(err) === 404) return null;
        throw toDockerError(err, `inspect image ${ref}`);
      }
    },
    async removeImage(ref, options = {}) {
      try {
        await docker
          .getImage(ref)
          .remove({ force: options.force ?? false, noprune: options.noprune ?? false });
        return 'removed';
      } catch (err) {
        if (statusCodeOf(err) === 404) return 'not-found';
        throw toDockerError(err, `remove image ${ref}`);
      }
    },
    async tagImage(ref, repository, tag) {
      try {
        await docker.getImage(ref).tag({ repo: repository, tag });
      } catch (err) {
        throw toDockerError(err, `tag image ${ref}`);
      }
    },
    async listImages(options = {}) {
      try {
        const filters = options.labels?.length ? { label: options.labels } : undefined;
        const images = await docker.listImages({
          all: options.all ?? false,
          ...(filters ? { filters } : {}),
        });
        const engine = await flavour();
        return images.map((i): ImageInfo => ({
          id: fullImageId(i.Id),
          ...engineReferences(i.RepoTags, i.RepoDigests, engine),
          labels: i.Labels ?? {},
          sizeBytes: i.Size,
          createdAt: new Date(i.Created * 1000).toISOString(),
          parentId: fullImageId(i.ParentId ?? ''),
          comment: '',
          layers: 0,
        }));
      } catch (err) {
        throw toDockerError(err, 'list images');
      }
    },
    async listContainers() {
      try {
        const containers = await docker.listContainers({ all: true });
        return containers.map((c): ContainerInfo => ({
          id: c.Id,
          imageId: fullImageId(c.ImageID),
          state: c.State,
          names: c.Names ?? [],
        }));
      } catch (err) {
        throw toDockerError(err, 'list containers');
      }
    },
    async dataRoot() {
      try {
        const info = (await docker.info()) as { DockerRootDir?: string };
        return info.DockerRootDir ?? '/var/lib/docker';
      } catch (err) {
        throw toDockerError(err, 'docker info');
      }
    },
    async layerUsage() {
      let raw: unknown;
      try {
        raw = await docker.df();
      } catch (err) {
        throw toDockerError(err, 'docker system df');
      }
      return parseLayerUsage(raw);
    },
  };
}

/** The fields of `GET /system/df` a measurement needs; dockerode types the answer as any. */
export function parseLayerUsage(raw: unknown): LayerUsage {
  const body = (typeof raw === 'object' && raw !== null ? raw : {}) as {
    LayersSize?: unknown;
    Images?: unknown;
  };
  if (typeof body.LayersSize !== 'number')
    throw new DockerError('docker system df: no LayersSize', undefined);
  const images = Array.isArray(body.Images) ? (body.Images as unknown[]) : [];
  const usage: LayerUsage = {
    layersSize: body.LayersSize,
    images: images.flatMap((i) => {
      const image = (typeof i === 'object' && i !== null ? i : {}) as Record<string, unknown>;
      if (typeof image.Id !== 'string') return [];
      const sizeBytes = typeof image.Size === 'number' ? image.Size : 0;
      // -1: the engine did not compute it.
      const sharedBytes = typeof image.SharedSize === 'number' && image.SharedSize > 0 ? image.SharedSize : 0;
      return [{ id: fullImageId(image.Id), sizeBytes, sharedBytes }];
    }),
  };
  // Podman 4.3 (vfs, seen here) answers LayersSize 0 whatever its images hold: a difference
  // of two zeros would claim a measured 0 bytes freed. Such an engine cannot be measured.
  if (usage.layersSize === 0 && usage.images.some((i) => i.sizeBytes > 0))
    throw new DockerError(
      'docker system df: LayersSize is 0 while images hold bytes: the engine does not count its layers',
      undefined,
    );
  return usage;
}
