import type { ContainerInfo, DockerPort, ImageInfo } from '../../src/docker/docker-port.js';
import { DockerError } from '../../src/docker/docker-port.js';

/**
 * An in-memory engine with the semantics that matter to snapkeeper: tags resolve to ids, deleting
 * the last reference deletes the image, and images used by containers or parents of other images
 * answer 409 unless forced.
 */
export class FakeDocker implements DockerPort {
  images = new Map<string, ImageInfo>();
  containers: ContainerInfo[] = [];
  calls: string[] = [];

  addImage(id: string, tags: string[], labels: Record<string, string>, parentId = ''): void {
    this.images.set(id, {
      id,
      repoTags: tags,
      labels,
      sizeBytes: 1000,
      createdAt: new Date(0).toISOString(),
      parentId,
    });
  }

  private resolve(ref: string): ImageInfo | undefined {
    return this.images.get(ref) ?? [...this.images.values()].find((i) => i.repoTags.includes(ref));
  }

  async inspectImage(ref: string): Promise<ImageInfo | null> {
    this.calls.push(`inspect ${ref}`);
    const info = this.resolve(ref);
    return info ? { ...info, repoTags: [...info.repoTags] } : null;
  }

  async removeImage(ref: string, options: { force?: boolean } = {}): Promise<'removed' | 'not-found'> {
    this.calls.push(`remove ${ref}`);
    const info = this.resolve(ref);
    if (!info) return 'not-found';
    const used = this.containers.some((c) => c.imageId === info.id);
    const isTag = info.repoTags.includes(ref);
    if (isTag && info.repoTags.length > 1) {
      info.repoTags = info.repoTags.filter((t) => t !== ref);
      return 'removed';
    }
    if (used && !options.force) throw new DockerError('conflict: in use', 409);
    const hasChildren = [...this.images.values()].some((i) => i.parentId === info.id);
    if (isTag && (hasChildren || used)) {
      // The engine only untags the last reference of an image it cannot delete.
      info.repoTags = [];
      return 'removed';
    }
    if (!isTag && info.repoTags.length > 1) throw new DockerError('conflict: multiple repositories', 409);
    if ([...this.images.values()].some((i) => i.parentId === info.id)) {
      throw new DockerError('conflict: dependent child images', 409);
    }
    this.images.delete(info.id);
    return 'removed';
  }

  async tagImage(ref: string, repository: string, tag: string): Promise<void> {
    this.calls.push(`tag ${ref} ${repository}:${tag}`);
    const info = this.resolve(ref);
    if (!info) throw new DockerError('no such image', 404);
    info.repoTags.push(`${repository}:${tag}`);
  }

  async listImages(): Promise<ImageInfo[]> {
    return [...this.images.values()];
  }

  async listContainers(): Promise<ContainerInfo[]> {
    return this.containers;
  }

  async dataRoot(): Promise<string> {
    return '/var/lib/docker';
  }
}
