// The names users script against (workflow ids, queues, labels, search attributes). Kept in one
// module so the workflows, the workers, the API and the CLI can never disagree. Pure functions only:
// this module is bundled into workflow code.

export const WORKFLOW_TASK_QUEUE = 'snapkeeper';
export const DOCKER_TASK_QUEUE_PREFIX = 'snapkeeper-docker-';

export function dockerTaskQueue(hostId: string): string {
  return `${DOCKER_TASK_QUEUE_PREFIX}${hostId}`;
}

export const SNAPSHOT_WORKFLOW_ID_PREFIX = 'snapshot:';

export function snapshotWorkflowId(projectId: string, workItemId: string): string {
  return `${SNAPSHOT_WORKFLOW_ID_PREFIX}${encodeURIComponent(projectId)}:${encodeURIComponent(workItemId)}`;
}

export function parseSnapshotWorkflowId(
  workflowId: string,
): { projectId: string; workItemId: string } | undefined {
  if (!workflowId.startsWith(SNAPSHOT_WORKFLOW_ID_PREFIX)) return undefined;
  const parts = workflowId.slice(SNAPSHOT_WORKFLOW_ID_PREFIX.length).split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  try {
    return { projectId: decodeURIComponent(parts[0]), workItemId: decodeURIComponent(parts[1]) };
  } catch {
    return undefined;
  }
}

export const LABEL_MANAGED = 'io.snapkeeper.managed';
export const LABEL_PROJECT = 'io.snapkeeper.project';
export const LABEL_WORK_ITEM = 'io.snapkeeper.work-item';

/** Set by commitSnapshot: a random id of that one commit, repeated in the image's Comment. */
export const LABEL_COMMIT = 'io.snapkeeper.commit';
/** Set by commitSnapshot: the repo:tag the commit itself was given (a reference snapkeeper owns). */
export const LABEL_REFERENCE = 'io.snapkeeper.reference';

export function managedLabels(projectId: string, workItemId: string): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_PROJECT]: projectId, [LABEL_WORK_ITEM]: workItemId };
}

/** Holds an image whose reuse reference was removed, until removeSnapshotImage deletes it. */
export const RETIRING_REPOSITORY = 'snapkeeper/retiring';

/**
 * snapkeeper's holding reference: an image registered without any reference gets it, so a current
 * snapshot is never untagged (the parent walk only takes untagged images); an image being retired
 * gets it before its reuse reference goes; and a removal always ends with the untag of this tag,
 * never with a delete by id that could take a tag someone just added along.
 */
export const HELD_REPOSITORY = 'snapkeeper/held';

/**
 * Left on an image whose snapshot ended while a reference snapkeeper does not own still named it:
 * it tells the reconciler that the other references are someone else's, and once they are all
 * gone this one is all that is left, so the image goes.
 */
export const KEPT_REPOSITORY = 'snapkeeper/kept';

/** The tag snapkeeper's own references use: the image id without its algorithm prefix. */
export function imageIdTag(imageId: string): string {
  return imageId.replace(/^sha256:/, '');
}

/**
 * The reconciler tags an orphan candidate with this repository before it asks the owner a last
 * time; a registration refuses an image so tagged, which closes the race between that last check
 * and the removal.
 */
export const REAPING_REPOSITORY = 'snapkeeper/reaping';

export function reapingTag(imageId: string): string {
  return `${REAPING_REPOSITORY}:${imageIdTag(imageId)}`;
}

export function heldTag(imageId: string): string {
  return `${HELD_REPOSITORY}:${imageIdTag(imageId)}`;
}

export function keptTag(imageId: string): string {
  return `${KEPT_REPOSITORY}:${imageIdTag(imageId)}`;
}

/** Repositories whose tags only snapkeeper writes. */
export const SNAPKEEPER_REPOSITORIES: readonly string[] = [
  HELD_REPOSITORY,
  RETIRING_REPOSITORY,
  REAPING_REPOSITORY,
  KEPT_REPOSITORY,
];

export const SEARCH_ATTRIBUTES = {
  projectId: 'SnapshotProjectId',
  workItemId: 'SnapshotWorkItemId',
  image: 'SnapshotImage',
  host: 'SnapshotHost',
  state: 'SnapshotState',
  expiresAt: 'SnapshotExpiresAt',
  sizeBytes: 'SnapshotSizeBytes',
  repository: 'SnapshotRepository',
  pullRequest: 'SnapshotPullRequest',
} as const;

/** Name → Temporal type, as the dev server flag `--search-attribute Name=Type` wants them. */
export const SEARCH_ATTRIBUTE_TYPES: Record<string, 'Keyword' | 'Datetime' | 'Int'> = {
  SnapshotProjectId: 'Keyword',
  SnapshotWorkItemId: 'Keyword',
  SnapshotImage: 'Keyword',
  SnapshotHost: 'Keyword',
  SnapshotState: 'Keyword',
  SnapshotExpiresAt: 'Datetime',
  SnapshotSizeBytes: 'Int',
  SnapshotRepository: 'Keyword',
  SnapshotPullRequest: 'Int',
};
