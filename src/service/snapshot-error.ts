import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { ErrorTypeName } from '../contract/errors.js';
import { ErrorType } from '../contract/errors.js';

/** A refusal the caller can act on; `type` is one of ErrorType and maps to an HTTP status. */
export class SnapshotError extends Error {
  constructor(
    readonly type: ErrorTypeName,
    message: string,
  ) {
    super(message);
    this.name = 'SnapshotError';
  }
}

const KNOWN = new Set<string>(Object.values(ErrorType));

/** Turns a failed update into a SnapshotError when the workflow refused it on purpose. */
export function fromUpdateFailure(err: unknown): SnapshotError | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && cause.type && KNOWN.has(cause.type)) {
    return new SnapshotError(cause.type as ErrorTypeName, cause.message);
  }
  return undefined;
}
