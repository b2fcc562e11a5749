// Failure types that cross process boundaries (activity → workflow → update caller → API). The API
// maps them to HTTP statuses, and workflows list the permanent ones as non-retryable.

export const ErrorType = {
  imageNotFound: 'ImageNotFound',
  unmanagedImage: 'UnmanagedImage',
  invalidRequest: 'InvalidRequest',
  snapshotNotFound: 'SnapshotNotFound',
  projectDisabled: 'ProjectDisabled',
  hostUnavailable: 'HostUnavailable',
  /** The pull request a registration or link names has merged: nothing may keep it alive. */
  pullRequestMerged: 'PullRequestMerged',
  /** The caller named an image that is no longer the work item's current one. */
  imageNotCurrent: 'ImageNotCurrent',
} as const;

export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** Permanent failures of Docker activities: retrying cannot change the answer. */
export const NON_RETRYABLE_DOCKER_ERRORS: string[] = [
  ErrorType.imageNotFound,
  ErrorType.unmanagedImage,
  ErrorType.invalidRequest,
];
