import { createHash } from 'node:crypto';
import type { ContainerInfo, DockerPort, ImageInfo } from '../src/docker/docker-port.js';
import { managedLabels } from '../src/contract/names.js';

/** Repository of B5's images; the tag names the work item: `<projectId>.<workItemId>`. */
export const SYNTHETIC_REPOSITORY = 'bench-scale/snapshot';

export function syntheticImage(projectId: string, workItemId: string): string {
  return `${SYNTHETIC_REPOSITORY}:${projectId}.${workItemId}`;
}

/**
 * An engine for B5 that holds every image its names describe: `bench-scale/snapshot:<p>.<w>` exists
 * with the managed labels of work item w of project p, so 100,000 registrations need no 100,000
 * commits (each a real image on disk). Operations are map lookups; the engine's semantics that
 * registration relies on (ids, extra tags, 404 after removal) hold. Benchmarks of the workflows at
 * scale only: everything that touches images for real is measured against a real engine.
 */
export class SyntheticDocker implements DockerPort {
  private readonly byId = new Map<string, ImageInfo>();
  private readonly tags = new Map<string, string>();
  private readonly removed = new Set<string>();

  private describe(ref: string): ImageInfo | undefined {
    const known = this.byId.get(this.tags.get(ref) ?? ref);
    if (known) return known;
    if (!ref.startsWith(`${SYNTHETIC_REPOSITORY}:`) || this.removed.has(ref)) return undefined;
    const tag = ref.slice(SYNTHETIC_REPOSITORY.length + 1);
    const dot = tag.indexOf('.');
    if (dot <= 0) return undefined;
    const info: ImageInfo = {
      id: `sha256:${createHash('sha256').update(ref).digest('hex')}`,
      repoTags: [ref],
      labels: managedLabels(tag.slice(0, dot), tag.slice(dot + 1)),
      sizeBytes: 10_000_000,
      createdAt: new Date().toISOString(),
      parentId: '',
      repoDigests: [],
      comment: '',
      layers: 2,
    };
    this.byId.set(info.id, info);
    this.tags.set(ref, info.id);
    return info;
  }

  async inspectImage(ref: string): Promise<ImageInfo | null> {
    const info = this.describe(ref);
    return info ? { ...info, repoTags: [...info.repoTags], labels: { ...info.labels } } : null;
  }

  async removeImage(ref: string): Promise<'removed' | 'not-found'> {
    const info = this.describe(ref);
    if (!info) return 'not-found';
    if (this.tags.has(ref) && info.repoTags.length > 1) {
      info.repoTags = info.repoTags.filter((t) => t !== ref);
      this.tags.delete(ref);
      this.removed.add(ref);
      return 'removed';
    }
    for (const t of info.repoTags) {
      this.tags.delete(t);
      this.removed.add(t);
    }
    this.byId.delete(info.id);
    return 'removed';
  }

  async tagImage(ref: string, repository: string, tag: string): Promise<void> {
    const info = this.describe(ref);
    if (!info) throw Object.assign(new Error(`no such image: ${ref}`), { statusCode: 404 });
    const name = `${repository}:${tag}`;
    if (!info.repoTags.includes(name)) info.repoTags.push(name);
    this.tags.set(name, info.id);
  }

  async listImages(options: { labels?: string[] } = {}): Promise<ImageInfo[]> {
    const wanted = (options.labels ?? []).map((l) => l.split('='));
    return [...this.byId.values()].filter((i) =>
      wanted.every(([k, v]) => k !== undefined && i.labels[k] === v),
    );
  }

  async listContainers(): Promise<ContainerInfo[]> {
    return [];
  }

  async dataRoot(): Promise<string> {
    return '/nonexistent/bench-synthetic-docker';
  }
}
