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

export function managedLabels(projectId: string, workItemId: string): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_PROJECT]: projectId, [LABEL_WORK_ITEM]: workItemId };
}

/** Holds an image whose reuse reference was removed, until removeSnapshotImage deletes it. */
export const RETIRING_REPOSITORY = 'snapkeeper/retiring';

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
