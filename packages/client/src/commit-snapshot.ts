// Commits a job's container to a snapshot image that snapkeeper will accept: the managed labels
// of its work item are set at commit time, and the tag is unique per commit, so a new snapshot
// never moves the tag of one still in use. The commit also declares itself (a per-commit id in a
// label and in the image's Comment, and its own tag in a label): snapkeeper then knows that tag is
// its to remove even if the image is never registered, and tells an image someone built FROM the
// snapshot (labels inherited, Comment not) from the snapshot itself, so it never removes that one.
//
// With a lease (POST /v1/leases), the commit carries io.snapkeeper.lease=<leaseId>: the reconciler
// does not reap it while the lease lives, however long the registration takes; without one, only the
// age grace (SNAPKEEPER_ORPHAN_GRACE) protects it.
//
// The engine is anything shaped like dockerode's client (DockerLike): the package has no
// dependency on dockerode, and loadDocker() imports it only when asked (an optional peer).
import type { CreateLeaseBody, LeaseGrant } from './contract.js';
import {
  ID_PATTERN,
  IMAGE_REF_MAX_LENGTH,
  IMAGE_REF_PATTERN,
  LABEL_COMMIT,
  LABEL_LEASE,
  LABEL_REFERENCE,
  LEASE_ID_PATTERN,
  commitComment,
  managedLabels,
} from './contract.js';

export const DEFAULT_SNAPSHOT_REPOSITORY = 'snapkeeper/snapshot';

export interface CommitSnapshotOptions {
  containerId: string;
  projectId: string;
  workItemId: string;
  /** Image repository (lowercase, Docker's rules); default `snapkeeper/snapshot`. */
  repository?: string;
  /** Default: `<project>-<work item>-<time>-<random>`, made safe for a tag. */
  tag?: string;
  /** Pause the container while committing (Docker's default: true). */
  pause?: boolean;
  /**
   * Protect the commit with a lease until it is registered (pass `leaseId` to `register`, which
   * releases it): `{ client, ttlSeconds }` takes a new one before the commit, `{ leaseId }` uses one
   * already taken. Default: no lease (the age grace alone protects the commit).
   */
  lease?: CommitLeaseOption;
}

/** What commitSnapshot needs to take a lease: a SnapkeeperClient fits. */
export interface LeaseTaker {
  createLease(input: CreateLeaseBody): Promise<LeaseGrant>;
  releaseLease(leaseId: string): Promise<boolean>;
}

export type CommitLeaseOption = { client: LeaseTaker; ttlSeconds?: number } | { leaseId: string };

/** What commitSnapshot asks of the engine: dockerode's `getContainer(id).commit(options)`. */
export interface DockerLike {
  getContainer(id: string): {
    commit(options: {
      repo: string;
      tag: string;
      pause: boolean;
      comment: string;
      changes: string[];
    }): Promise<unknown>;
  };
}

export interface CommittedSnapshot {
  /** `repository:tag`, what to register and what the next job starts from. */
  image: string;
  /** The engine's `sha256:…` id. */
  imageId: string;
  /** The id this commit declared (label io.snapkeeper.commit and the image's Comment). */
  commitId: string;
  /** The lease the commit carries (label io.snapkeeper.lease); pass it to `register` as `leaseId`. */
  leaseId?: string;
  /** When a lease taken by this call ends unless released or consumed earlier. */
  leaseExpiresAt?: string;
}

/** Hex of `bytes` random bytes, from Web Crypto (global in Node 20): no import of node:crypto. */
function randomHex(bytes: number): string {
  const buf = globalThis.crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join('');
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[.-]+/, '');

export function defaultSnapshotTag(projectId: string, workItemId: string, now = Date.now()): string {
  const suffix = `-${now.toString(36)}-${randomHex(4)}`;
  // The unique suffix always survives: the ids give way to it.
  return `${slug(projectId).slice(0, 50)}-${slug(workItemId).slice(0, 128 - 51 - suffix.length)}${suffix}`;
}

/**
 * A dockerode client, imported on first use: dockerode is an optional peer dependency, needed only
 * by routers that let this package make the client (they may pass their own to commitSnapshot).
 * Without options dockerode reads DOCKER_HOST, else the default socket.
 */
export async function loadDocker(options?: Record<string, unknown>): Promise<DockerLike> {
  // A specifier in a variable: neither tsc nor a bundler follows it, so nothing of dockerode is
  // needed to build or to import this package.
  const name = 'dockerode';
  let mod: { default: new (options?: Record<string, unknown>) => DockerLike };
  try {
    mod = (await import(name)) as typeof mod;
  } catch (err) {
    throw new Error(
      `loadDocker needs the optional peer dependency dockerode (npm install dockerode): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return new mod.default(options);
}

export async function commitSnapshot(
  docker: DockerLike,
  options: CommitSnapshotOptions,
): Promise<CommittedSnapshot> {
  const { containerId, projectId, workItemId } = options;
  if (!ID_PATTERN.test(projectId))
    throw new Error(`projectId ${JSON.stringify(projectId)} is not a valid id`);
  if (!ID_PATTERN.test(workItemId))
    throw new Error(`workItemId ${JSON.stringify(workItemId)} is not a valid id`);
  const repository = options.repository ?? DEFAULT_SNAPSHOT_REPOSITORY;
  const tag = options.tag ?? defaultSnapshotTag(projectId, workItemId);
  const image = `${repository}:${tag}`;
  if (image.length > IMAGE_REF_MAX_LENGTH || !IMAGE_REF_PATTERN.test(image) || image.includes('@')) {
    throw new Error(`${JSON.stringify(image)} is not a valid repository:tag for a snapshot`);
  }
  const lease = options.lease;
  if (lease && 'leaseId' in lease && !LEASE_ID_PATTERN.test(lease.leaseId))
    throw new Error(`leaseId ${JSON.stringify(lease.leaseId)} is not a lease id`);
  // Taken before the commit: the image never exists without its lease living.
  const grant: LeaseGrant | undefined =
    lease && 'client' in lease
      ? await lease.client.createLease({
          projectId,
          workItemId,
          ...(lease.ttlSeconds !== undefined ? { ttlSeconds: lease.ttlSeconds } : {}),
        })
      : undefined;
  const leaseId = grant?.leaseId ?? (lease && 'leaseId' in lease ? lease.leaseId : undefined);
  const commitId = randomHex(12);
  const declared = {
    ...managedLabels(projectId, workItemId),
    [LABEL_COMMIT]: commitId,
    [LABEL_REFERENCE]: image,
    ...(leaseId ? { [LABEL_LEASE]: leaseId } : {}),
  };
  // One LABEL instruction per label: Podman 4.3 reads `LABEL a="1" b="2"` as a="1\" b=\"2" (one
  // label, the others lost), Docker reads both forms alike. The ids cannot hold quotes or
  // backslashes (ID_PATTERN).
  const changes = Object.entries(declared).map(([k, v]) => `LABEL ${JSON.stringify(k)}=${JSON.stringify(v)}`);
  let result: { Id?: string; id?: string };
  try {
    result = (await docker.getContainer(containerId).commit({
      repo: repository,
      tag,
      pause: options.pause ?? true,
      comment: commitComment(commitId),
      changes,
    })) as { Id?: string; id?: string };
  } catch (err) {
    // A lease taken for a commit that failed protects nothing; it would expire anyway.
    if (grant && lease && 'client' in lease)
      await lease.client.releaseLease(grant.leaseId).catch(() => false);
    throw err;
  }
  const answered = result.Id ?? result.id;
  if (!answered) throw new Error(`docker commit of ${containerId} returned no image id`);
  // Podman answers a commit with the bare hex id; snapkeeper compares ids in Docker's sha256: form.
  const imageId = /^[a-f0-9]{64}$/.test(answered) ? `sha256:${answered}` : answered;
  return {
    image,
    imageId,
    commitId,
    ...(leaseId ? { leaseId } : {}),
    ...(grant ? { leaseExpiresAt: grant.expiresAt } : {}),
  };
}
