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
  /** The host's Docker engine did not answer or failed (5xx): retry later. */
  engineUnavailable: 'EngineUnavailable',
  /** A short id or name that names more than one image. */
  ambiguousReference: 'AmbiguousReference',
  /** The snapshot has too many layers to be committed from again; it is no longer offered. */
  chainTooDeep: 'ChainTooDeep',
} as const;

/**
 * The snapshot workflow's answer to a touch whose use is already recorded (within the recording
 * interval): the lookup answers with what it read. Never reaches a caller of the API.
 */
export const TOUCH_NOT_NEEDED = 'TouchNotNeeded';

export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** Permanent failures of Docker activities: retrying cannot change the answer. */
export const NON_RETRYABLE_DOCKER_ERRORS: string[] = [
  ErrorType.imageNotFound,
  ErrorType.unmanagedImage,
  ErrorType.invalidRequest,
  ErrorType.ambiguousReference,
];
