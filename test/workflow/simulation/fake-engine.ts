// The simulation's Docker engines: one in-memory image store per host, behind the real DockerPort
// interface, so the real Docker activities (src/activities/docker-activities.ts, the parent walk,
// the kept and held tags) run against it. It keeps the engine semantics snapkeeper relies on
// (tags resolve to ids, the last reference deletes the image, 409 while a container uses it or a
// child needs it, 404 on what is gone), answers after a random few milliseconds so concurrent
// activities interleave between calls, fails on demand like an engine that is down, and records
// every removal it should never have been asked for (a reference snapkeeper does not own, an
// unmanaged image): the engine is where invariant 4 is observed.
import { createHash } from 'node:crypto';
import type { ContainerInfo, DockerPort, ImageInfo } from '../../../src/docker/docker-port.js';
import { DockerError } from '../../../src/docker/docker-port.js';
import { commitComment, isSnapkeeperTag } from '../../../src/contract/image-references.js';
import {
  LABEL_COMMIT,
  LABEL_MANAGED,
  LABEL_REFERENCE,
  LABEL_WORK_ITEM,
  managedLabels,
} from '../../../src/contract/names.js';

export interface EngineViolation {
  host: string;
  /** The work item whose image it was ('' for an image of none). */
  workItem: string;
  what: string;
}

export interface CommitOptions {
  projectId: string;
  workItemId: string;
  /** The commit's own tag, `repo:tag`. */
  tag: string;
  parentId: string;
  /** Declares its tag with the commit labels and Comment, as commitSnapshot does. */
  declared: boolean;
  layers: number;
}

const BASE_TAG = 'sim/base:latest';

class HostEngine implements DockerPort {
  readonly images = new Map<string, ImageInfo>();
  readonly containers: ContainerInfo[] = [];
  /** References someone else made: snapkeeper must never remove them. */
  readonly foreign = new Set<string>();
  /** Engine calls still to fail as if the engine were down. */
  downCalls = 0;
  readonly baseId: string;

  constructor(
    readonly host: string,
    private readonly violations: EngineViolation[],
    private readonly latencyMs: number,
  ) {
    this.baseId = idOf(`${host}/base`);
    this.images.set(this.baseId, image(this.baseId, [BASE_TAG], {}, '', '', 1));
  }

  private async answer(): Promise<void> {
    // A random delay, so two activities on this host interleave between engine calls.
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * (this.latencyMs + 1))));
    if (this.downCalls > 0) {
      this.downCalls--;
      throw new DockerError(`connect ECONNREFUSED (engine of ${this.host} is down)`, undefined);
    }
  }

  private violate(info: ImageInfo, what: string): void {
    this.violations.push({ host: this.host, workItem: info.labels[LABEL_WORK_ITEM] ?? '', what });
  }

  resolve(ref: string): ImageInfo | undefined {
    const exact = this.images.get(ref) ?? this.images.get(`sha256:${ref}`);
    if (exact) return exact;
    const tag = /:[^/]+$/.test(ref) ? ref : `${ref}:latest`;
    return [...this.images.values()].find((i) => i.repoTags.includes(tag));
  }

  private hasChildren(id: string): boolean {
    return [...this.images.values()].some((i) => i.parentId === id);
  }

  private untag(info: ImageInfo, ref: string): void {
    if (this.foreign.has(ref)) this.violate(info, `removed foreign reference ${ref} of ${info.id}`);
    info.repoTags = info.repoTags.filter((t) => t !== ref);
  }

  private delete(info: ImageInfo): void {
    if (!info.labels[LABEL_MANAGED]) this.violate(info, `deleted unmanaged image ${info.id}`);
    for (const ref of info.repoTags) this.untag(info, ref);
    this.images.delete(info.id);
  }

  async inspectImage(ref: string): Promise<ImageInfo | null> {
    await this.answer();
    const info = this.resolve(ref);
    return info ? copy(info) : null;
  }

  async removeImage(ref: string, options: { force?: boolean } = {}): Promise<'removed' | 'not-found'> {
    await this.answer();
    const info = this.resolve(ref);
    if (!info) return 'not-found';
    if (options.force) this.violate(info, `forced removal of ${ref}`);
    const isTag = info.repoTags.includes(ref);
    const used = this.containers.some((c) => c.imageId === info.id);
    if (isTag && info.repoTags.length > 1) {
      this.untag(info, ref);
      return 'removed';
    }
    if (!isTag && info.repoTags.length > 1)
      throw new DockerError('conflict: image is referenced in multiple repositories', 409);
    if (used)
      throw new DockerError(
        `conflict: unable to remove ${ref}: a container is using its referenced image`,
        409,
      );
    if (this.hasChildren(info.id)) {
      if (!isTag) throw new DockerError('conflict: unable to delete: image has dependent child images', 409);
      // The engine only untags the last reference of an image its children still need.
      this.untag(info, ref);
      return 'removed';
    }
    this.delete(info);
    return 'removed';
  }

  async tagImage(ref: string, repository: string, tag: string): Promise<void> {
    await this.answer();
    const info = this.resolve(ref);
    if (!info) throw new DockerError(`No such image: ${ref}`, 404);
    const full = `${repository}:${tag}`;
    // A tag names one image: tagging moves it.
    for (const other of this.images.values()) {
      if (other !== info && other.repoTags.includes(full)) this.untag(other, full);
    }
    if (!info.repoTags.includes(full)) info.repoTags.push(full);
  }

  async listImages(options: { labels?: string[] } = {}): Promise<ImageInfo[]> {
    await this.answer();
    const wanted = (options.labels ?? []).map((l) => l.split('='));
    return [...this.images.values()]
      .filter((i) =>
        wanted.every(([k, v]) => k !== undefined && (v === undefined ? k in i.labels : i.labels[k] === v)),
      )
      .map((i) => ({ ...copy(i), comment: '', layers: 0 }));
  }

  async listContainers(): Promise<ContainerInfo[]> {
    await this.answer();
    return this.containers.map((c) => ({ ...c }));
  }

  async dataRoot(): Promise<string> {
    return `/sim/${this.host}`;
  }
}

/** The hosts of one simulation, and the handles its commands and checks use on them. */
export class FakeEngines {
  readonly violations: EngineViolation[] = [];
  private readonly hosts = new Map<string, HostEngine>();
  private commits = 0;
  private containerCount = 0;

  constructor(hostIds: string[], latencyMs: number) {
    for (const host of hostIds) this.hosts.set(host, new HostEngine(host, this.violations, latencyMs));
  }

  port(host: string): DockerPort {
    return this.engine(host);
  }

  private engine(host: string): HostEngine {
    const e = this.hosts.get(host);
    if (!e) throw new Error(`no simulated host ${host}`);
    return e;
  }

  baseOf(host: string): string {
    return this.engine(host).baseId;
  }

  /** `docker commit`: a new managed image of the work item, with its own tag. */
  commit(host: string, options: CommitOptions): string {
    const e = this.engine(host);
    this.commits += 1;
    const id = idOf(`${host}/${options.tag}/${this.commits}`);
    const labels: Record<string, string> = managedLabels(options.projectId, options.workItemId);
    let comment = '';
    if (options.declared) {
      labels[LABEL_COMMIT] = id.slice(7, 19);
      labels[LABEL_REFERENCE] = options.tag;
      comment = commitComment(id.slice(7, 19));
    }
    for (const other of e.images.values()) other.repoTags = other.repoTags.filter((t) => t !== options.tag);
    e.images.set(id, image(id, [options.tag], labels, options.parentId, comment, options.layers));
    return id;
  }

  find(host: string, imageId: string): ImageInfo | undefined {
    const info = this.engine(host).images.get(imageId);
    return info ? copy(info) : undefined;
  }

  /** Someone else tags the image (a release, a colleague): snapkeeper must leave that reference. */
  tagForeign(host: string, imageId: string, tag: string): boolean {
    const e = this.engine(host);
    const info = e.images.get(imageId);
    if (!info || [...e.images.values()].some((i) => i.repoTags.includes(tag))) return false;
    info.repoTags.push(tag);
    e.foreign.add(tag);
    return true;
  }

  /** `docker rmi -f` by someone else: the image and its tags go (not while a child needs it). */
  removeOutside(host: string, imageId: string): boolean {
    const e = this.engine(host);
    const info = e.images.get(imageId);
    if (!info || [...e.images.values()].some((i) => i.parentId === imageId)) return false;
    for (const t of info.repoTags) e.foreign.delete(t);
    e.images.delete(imageId);
    return true;
  }

  startContainer(host: string, imageId: string): string | undefined {
    const e = this.engine(host);
    if (!e.images.has(imageId)) return undefined;
    this.containerCount += 1;
    const id = `container-${this.containerCount}`;
    e.containers.push({ id, imageId, state: 'exited', names: [`/${id}`] });
    return id;
  }

  removeContainer(host: string, containerId: string): void {
    const e = this.engine(host);
    const i = e.containers.findIndex((c) => c.id === containerId);
    if (i >= 0) e.containers.splice(i, 1);
  }

  /** The next `calls` engine calls on this host fail like an engine that is down. */
  failNext(host: string, calls: number): void {
    this.engine(host).downCalls = calls;
  }

  /** Back to a healthy engine with no containers, before the end-of-run checks. */
  heal(): void {
    for (const e of this.hosts.values()) {
      e.downCalls = 0;
      e.containers.length = 0;
    }
  }

  /** Managed images left on a host, each with the references that name it. */
  managedImages(host: string): ImageInfo[] {
    return [...this.engine(host).images.values()].filter((i) => i.labels[LABEL_MANAGED]).map(copy);
  }

  isForeign(host: string, ref: string): boolean {
    return this.engine(host).foreign.has(ref);
  }

  childrenOf(host: string, imageId: string): string[] {
    return [...this.engine(host).images.values()].filter((i) => i.parentId === imageId).map((i) => i.id);
  }
}

/** Whether a reference is one of snapkeeper's own tags for that image. */
export function isOwnTag(ref: string, imageId: string): boolean {
  return isSnapkeeperTag(ref, imageId);
}

function idOf(seed: string): string {
  return `sha256:${createHash('sha256').update(seed).digest('hex')}`;
}

function image(
  id: string,
  tags: string[],
  labels: Record<string, string>,
  parentId: string,
  comment: string,
  layers: number,
): ImageInfo {
  return {
    id,
    repoTags: tags,
    labels,
    sizeBytes: 100_000_000,
    createdAt: new Date(0).toISOString(),
    parentId,
    repoDigests: [],
    comment,
    layers,
  };
}

function copy(info: ImageInfo): ImageInfo {
  return {
    ...info,
    repoTags: [...info.repoTags],
    repoDigests: [...info.repoDigests],
    labels: { ...info.labels },
  };
}
