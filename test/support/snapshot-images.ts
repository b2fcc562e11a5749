import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';
import { managedLabels } from '../../src/contract/names.js';
import { fullImageId } from '../../src/docker/engine-names.js';
import { statusCodeOf } from './containers.js';
import { testEnv } from './test-env.js';

export type { RunningContainer } from './containers.js';
export { runContainerFrom } from './containers.js';

export type SnapshotLabels = 'managed' | 'none' | Record<string, string>;

export interface MakeSnapshotImageOptions {
  projectId: string;
  workItemId: string;
  /** 'managed' (default): the snapkeeper labels for these ids; 'none': no labels at all. */
  labels?: SnapshotLabels;
  /** Size of the random payload written into the layer (default 64 KiB). */
  bytes?: number;
  /** Defaults to the harness base image. */
  fromImage?: string;
  /** repo:tag for the result; a unique one when omitted. */
  tag?: string;
}

export interface SnapshotImage {
  /** repo:tag */
  image: string;
  /** sha256:… */
  imageId: string;
}

/**
 * A real snapshot: a container from the base image writes random bytes and a random marker, and is
 * committed, exactly as the agent platform does after a job. Every call yields a distinct image ID.
 */
export async function makeSnapshotImage(
  docker: Dockerode,
  options: MakeSnapshotImageOptions,
): Promise<SnapshotImage> {
  const fromImage = options.fromImage ?? testEnv().baseImage;
  const kib = Math.max(1, Math.ceil((options.bytes ?? 64 * 1024) / 1024));
  const marker = randomBytes(8).toString('hex');
  const image = options.tag ?? defaultTag(options.projectId, options.workItemId);
  const { repo, tag } = splitRef(image);

  const container = await docker.createContainer({
    Image: fromImage,
    Cmd: [
      'sh',
      '-c',
      `dd if=/dev/urandom of=/payload bs=1024 count=${kib} 2>/dev/null && echo ${marker} > /marker-${marker}`,
    ],
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await container.start();
    const result = (await container.wait()) as { StatusCode?: number };
    if (result.StatusCode !== 0) throw new Error(`snapshot container exited with ${result.StatusCode}`);
    // _query replaces dockerode's query string wholesale, so it must name the container itself;
    // it is the only way to send `changes` more than once.
    const committed = (await container.commit({
      _query: { container: container.id, repo, tag, changes: commitChanges(labelsFor(options)) },
    })) as unknown;
    const imageId = idOf(committed);
    return { image, imageId };
  } finally {
    await container.remove({ force: true });
  }
}

/** Whether the engine still has the image; by ID or repo:tag. */
export async function imageExists(docker: Dockerode, idOrRef: string): Promise<boolean> {
  try {
    await docker.getImage(idOrRef).inspect();
    return true;
  } catch (err) {
    if (statusCodeOf(err) === 404) return false;
    throw err;
  }
}

function labelsFor(options: MakeSnapshotImageOptions): Record<string, string> {
  const labels = options.labels ?? 'managed';
  if (labels === 'managed') return managedLabels(options.projectId, options.workItemId);
  if (labels === 'none') return {};
  return labels;
}

function commitChanges(labels: Record<string, string>): string[] {
  // The container ran a one-off script; a snapshot should start a shell like its base does.
  const changes = ['CMD ["/bin/sh"]'];
  for (const [key, value] of Object.entries(labels))
    changes.push(`LABEL ${JSON.stringify(key)}=${JSON.stringify(value)}`);
  return changes;
}

function defaultTag(projectId: string, workItemId: string): string {
  const clean = (s: string, max: number) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, max) || 'x';
  return `snapkeeper-test/snap-${clean(projectId, 60)}:${clean(workItemId, 100)}-${randomBytes(4).toString('hex')}`;
}

function splitRef(ref: string): { repo: string; tag: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}

function idOf(committed: unknown): string {
  if (
    typeof committed === 'object' &&
    committed !== null &&
    'Id' in committed &&
    typeof committed.Id === 'string'
  ) {
    // Podman answers the bare hex id; the tests compare and wait by Docker's `sha256:` form.
    return fullImageId(committed.Id);
  }
  throw new Error(`docker commit answered without an Id: ${JSON.stringify(committed)}`);
}
