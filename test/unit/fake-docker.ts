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

  /** When set, every call fails like an engine that answers with this status (or is down: 0). */
  failWith: number | undefined;
  /** References whose removal the engine answers with 409, whatever the state. */
  conflictOn = new Set<string>();

  addImage(
    id: string,
    tags: string[],
    labels: Record<string, string>,
    parentId = '',
    extra: Partial<Pick<ImageInfo, 'repoDigests' | 'comment' | 'layers'>> = {},
  ): void {
    this.images.set(id, {
      id,
      repoTags: tags,
      labels,
      sizeBytes: 1000,
      createdAt: new Date(0).toISOString(),
      parentId,
      repoDigests: extra.repoDigests ?? [],
      comment: extra.comment ?? '',
      layers: extra.layers ?? 2,
    });
  }

  private fail(): void {
    if (this.failWith === undefined) return;
    throw new DockerError('engine failure', this.failWith === 0 ? undefined : this.failWith);
  }

  // Like the engine: an exact id, then a name (`x` is `x:latest`), then a unique id prefix.
  private resolve(ref: string): ImageInfo | undefined {
    const all = [...this.images.values()];
    const exact = this.images.get(ref) ?? this.images.get(`sha256:${ref}`);
    if (exact) return exact;
    const tag = /:[^/]+$/.test(ref) || ref.includes('@') ? ref : `${ref}:latest`;
    const named = all.find((i) => i.repoTags.includes(tag) || i.repoDigests.includes(ref));
    if (named) return named;
    if (!/^[a-f0-9]+$/.test(ref)) return undefined;
    const byPrefix = all.filter((i) => i.id.startsWith(`sha256:${ref}`));
    return byPrefix.length === 1 ? byPrefix[0] : undefined;
  }

  async inspectImage(ref: string): Promise<ImageInfo | null> {
    this.calls.push(`inspect ${ref}`);
    this.fail();
    const info = this.resolve(ref);
    return info ? { ...info, repoTags: [...info.repoTags], repoDigests: [...info.repoDigests] } : null;
  }

  async removeImage(ref: string, options: { force?: boolean } = {}): Promise<'removed' | 'not-found'> {
    this.calls.push(`remove ${ref}`);
    this.fail();
    if (this.conflictOn.has(ref)) throw new DockerError(`conflict: unable to remove ${ref}`, 409);
    const info = this.resolve(ref);
    if (!info) return 'not-found';
    const used = this.containers.some((c) => c.imageId === info.id);
    if (info.repoDigests.includes(ref)) {
      info.repoDigests = info.repoDigests.filter((d) => d !== ref);
      if (info.repoTags.length + info.repoDigests.length > 0) return 'removed';
    }
    const isTag = info.repoTags.includes(ref);
    if (isTag && info.repoTags.length + info.repoDigests.length > 1) {
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
    this.fail();
    const info = this.resolve(ref);
    if (!info) throw new DockerError('no such image', 404);
    const full = `${repository}:${tag}`;
    // A tag names one image: tagging moves it.
    for (const other of this.images.values()) other.repoTags = other.repoTags.filter((t) => t !== full);
    info.repoTags.push(full);
  }

  async listImages(options: { labels?: string[] } = {}): Promise<ImageInfo[]> {
    this.fail();
    const wanted = (options.labels ?? []).map((l) => l.split('='));
    return [...this.images.values()]
      .filter((i) => wanted.every(([k, v]) => k !== undefined && i.labels[k] === v))
      .map((i) => ({ ...i, comment: '', layers: 0 }));
  }

  async listContainers(): Promise<ContainerInfo[]> {
    this.fail();
    return this.containers;
  }

  async dataRoot(): Promise<string> {
    return '/var/lib/docker';
  }
}
