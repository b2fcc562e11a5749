import type { ContainerInfo, DockerPort, ImageInfo } from '../../src/docker/docker-port.js';
import { DockerError } from '../../src/docker/docker-port.js';

/**
 * An in-memory engine for tests at the size of a large host (tens of thousands of images): every
 * operation is a map lookup, with the engine's semantics that snapkeeper relies on (tags resolve to
 * ids, removing the last reference removes the image, 404 on what is gone, 409 on a parent).
 * For tests of payloads and histories only; real behaviour is tested against a real engine.
 */
export class ScaleFakeDocker implements DockerPort {
  readonly images = new Map<string, ImageInfo>();
  private readonly tags = new Map<string, string>();
  private readonly children = new Map<string, number>();
  counters = { list: 0, inspect: 0, remove: 0, tag: 0 };

  addImage(
    info: Omit<ImageInfo, 'parentId' | 'repoDigests' | 'comment' | 'layers'> &
      Partial<Pick<ImageInfo, 'parentId' | 'repoDigests' | 'comment' | 'layers'>>,
  ): void {
    const image: ImageInfo = {
      parentId: '',
      repoDigests: [],
      comment: '',
      layers: 2,
      ...info,
      repoTags: [...info.repoTags],
    };
    this.images.set(image.id, image);
    for (const t of image.repoTags) this.tags.set(t, image.id);
    if (image.parentId) this.children.set(image.parentId, (this.children.get(image.parentId) ?? 0) + 1);
  }

  private resolve(ref: string): ImageInfo | undefined {
    const id = this.tags.get(ref) ?? ref;
    return this.images.get(id);
  }

  async inspectImage(ref: string): Promise<ImageInfo | null> {
    this.counters.inspect++;
    const info = this.resolve(ref);
    return info ? { ...info, repoTags: [...info.repoTags], labels: { ...info.labels } } : null;
  }

  async removeImage(ref: string): Promise<'removed' | 'not-found'> {
    this.counters.remove++;
    const info = this.resolve(ref);
    if (!info) return 'not-found';
    const isTag = this.tags.has(ref);
    if (isTag && info.repoTags.length > 1) {
      info.repoTags = info.repoTags.filter((t) => t !== ref);
      this.tags.delete(ref);
      return 'removed';
    }
    if (!isTag && info.repoTags.length > 1) throw new DockerError('conflict: multiple repositories', 409);
    if ((this.children.get(info.id) ?? 0) > 0) {
      if (isTag) {
        info.repoTags = [];
        this.tags.delete(ref);
        return 'removed';
      }
      throw new DockerError('conflict: dependent child images', 409);
    }
    for (const t of info.repoTags) this.tags.delete(t);
    this.images.delete(info.id);
    if (info.parentId) this.children.set(info.parentId, (this.children.get(info.parentId) ?? 1) - 1);
    return 'removed';
  }

  async tagImage(ref: string, repository: string, tag: string): Promise<void> {
    this.counters.tag++;
    const info = this.resolve(ref);
    if (!info) throw new DockerError('no such image', 404);
    const name = `${repository}:${tag}`;
    const previous = this.tags.get(name);
    if (previous === info.id) return;
    if (previous) {
      const other = this.images.get(previous);
      if (other) other.repoTags = other.repoTags.filter((t) => t !== name);
    }
    info.repoTags.push(name);
    this.tags.set(name, info.id);
  }

  async listImages(options: { labels?: string[] } = {}): Promise<ImageInfo[]> {
    this.counters.list++;
    const wanted = (options.labels ?? []).map((l) => l.split('='));
    return [...this.images.values()]
      .filter((i) => wanted.every(([k, v]) => k !== undefined && i.labels[k] === v))
      .map((i) => ({ ...i, repoTags: [...i.repoTags] }));
  }

  async listContainers(): Promise<ContainerInfo[]> {
    return [];
  }

  async dataRoot(): Promise<string> {
    return '/nonexistent/scale-fake-docker';
  }
}
