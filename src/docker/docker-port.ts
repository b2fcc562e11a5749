// The small slice of the Docker Engine API that snapkeeper uses. Activities depend on this
// interface, so unit tests can pass a fake and the worker passes the dockerode adapter.

export interface ImageInfo {
  id: string;
  repoTags: string[];
  labels: Record<string, string>;
  sizeBytes: number;
  createdAt: string;
  parentId: string;
  /** `repo@sha256:…` references (pushed or pulled images). */
  repoDigests: string[];
  /** The commit message (`docker commit -m`); '' in listings, which do not carry it. */
  comment: string;
  /** RootFS layer count; 0 in listings, which do not carry it. */
  layers: number;
  /** RootFS layer digests (diff ids), bottom first; absent in listings, which do not carry them. */
  layerIds?: string[];
}

export interface ContainerInfo {
  id: string;
  imageId: string;
  state: string;
  names: string[];
}

export interface DiskUsage {
  /** Filesystem of the engine's data root. */
  totalBytes: number;
  usedBytes: number;
}

/** What `docker system df` says of the engine's image layers. */
export interface LayerUsage {
  /** Bytes of every layer an image references, each layer counted once (df's LayersSize). */
  layersSize: number;
  /** The images df lists (untagged parents of other images are not listed), by id. */
  images: Array<{ id: string; sizeBytes: number; sharedBytes: number }>;
}

export interface DockerPort {
  /** null when the engine answers 404. */
  inspectImage(ref: string): Promise<ImageInfo | null>;
  /** Removes one reference (tag or id). 'not-found' on 404; throws DockerError on any other failure. */
  removeImage(
    ref: string,
    options?: { force?: boolean; noprune?: boolean },
  ): Promise<'removed' | 'not-found'>;
  tagImage(ref: string, repository: string, tag: string): Promise<void>;
  listImages(options?: { labels?: string[]; all?: boolean }): Promise<ImageInfo[]>;
  listContainers(): Promise<ContainerInfo[]>;
  /** The engine's data root directory, as `docker info` reports it. */
  dataRoot(): Promise<string>;
  /**
   * The engine's own account of its image layers (`docker system df`), which measures what a removal
   * freed. Optional: an engine (or a test fake) without it leaves removals unmeasured.
   */
  layerUsage?(): Promise<LayerUsage>;
}

/** A failure the engine answered with an HTTP status; idempotency decisions use statusCode only. */
export class DockerError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
  ) {
    super(message);
    this.name = 'DockerError';
  }
}

export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err) {
    const code = (err as { statusCode: unknown }).statusCode;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}
