// The failures a snapshot workflow answers a refused update with (the API maps each type to its
// HTTP status, src/api/errors.ts). Refused before anything changed, unless the message says so.
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { ErrorType } from '../../contract/errors.js';
import { dockerTaskQueue } from '../../contract/names.js';
import type { PullRequestRef, RegisterRequest } from '../../contract/snapshot-types.js';
import { failureMessage } from '../shared/failure-message.js';
import type { WorkItem } from './state.js';

export function shuttingDown(): ApplicationFailure {
  return ApplicationFailure.nonRetryable('the snapshot workflow is shutting down', ErrorType.invalidRequest);
}

export function noActiveSnapshot({ projectId, workItemId }: WorkItem): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `no active snapshot for ${projectId}/${workItemId}`,
    ErrorType.snapshotNotFound,
  );
}

export function notCurrentImage(
  { projectId, workItemId }: WorkItem,
  imageId: string,
  currentImageId: string,
): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `image ${imageId} is not the current snapshot of ${projectId}/${workItemId} (the current one is ${currentImageId}); nothing was invalidated`,
    ErrorType.imageNotCurrent,
  );
}

export function mergedRefusal(pr: PullRequestRef, ended: boolean): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `pull request ${pr.repository}#${pr.number} has already merged and cannot keep a snapshot alive: ` +
      (ended ? 'the snapshot ended and its image is being removed' : 'the link was not made'),
    ErrorType.pullRequestMerged,
  );
}

/** A registration of an image this workflow is taking off the disk. */
export function beingRemoved(image: string, imageId: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `image ${image} (${imageId}) is being removed and cannot be registered again`,
    ErrorType.invalidRequest,
  );
}

/** A registration whose inspection failed: the host's words, or that the host did not answer. */
export function registrationFailure(err: unknown, req: RegisterRequest): ApplicationFailure {
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure) {
      return ApplicationFailure.nonRetryable(cause.message, cause.type ?? ErrorType.invalidRequest);
    }
    if (cause instanceof TimeoutFailure) {
      return ApplicationFailure.nonRetryable(
        `host ${req.host} did not answer: is a snapkeeper Docker worker running for it (task queue ${dockerTaskQueue(req.host)})?`,
        ErrorType.hostUnavailable,
      );
    }
  }
  return ApplicationFailure.nonRetryable(failureMessage(err), ErrorType.invalidRequest);
}
