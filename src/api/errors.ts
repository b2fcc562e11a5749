// Every failure leaves the API as JSON `{ error, message }` with a meaningful status, never as a
// stack trace. Refusals of the workflow (SnapshotError) map by type; Temporal being unreachable is
// a 503 the caller may retry; anything unexpected is a 500 with a generic message, logged in full.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorType } from '../contract/errors.js';
import type { ErrorTypeName } from '../contract/errors.js';
import { ownValue } from '../contract/keyed-records.js';
import { SnapshotError } from '../service/snapshot-error.js';
import { grpcCode } from '../service/list-snapshots.js';
import { InvalidListRequest } from '../service/visibility.js';

export interface ErrorBody {
  error: string;
  message: string;
}

/** An error the API answers with on purpose. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * EngineUnavailable is 503 like HostUnavailable: the host's engine failed or did not answer, and a
 * retry later may well succeed. ProjectDisabled is 403: the request is well formed, the caller is authenticated, and the
 * project's policy forbids snapshots; retrying cannot help until an operator enables it.
 */
export const STATUS_BY_ERROR_TYPE: Record<ErrorTypeName, number> = {
  [ErrorType.imageNotFound]: 422,
  [ErrorType.unmanagedImage]: 422,
  [ErrorType.invalidRequest]: 400,
  [ErrorType.snapshotNotFound]: 404,
  [ErrorType.projectDisabled]: 403,
  [ErrorType.hostUnavailable]: 503,
  [ErrorType.pullRequestMerged]: 409,
  [ErrorType.imageNotCurrent]: 409,
  [ErrorType.engineUnavailable]: 503,
  [ErrorType.ambiguousReference]: 422,
  // A miss for a router: the snapshot exists but is not offered (its chain is too deep).
  [ErrorType.chainTooDeep]: 404,
};

// gRPC codes of a Temporal server that is down, overloaded or too slow for our deadline. Our own
// deadline shows as CANCELLED while the client polls an update's outcome; an update that reaches a
// workflow whose last task timed out on a busy worker is FAILED_PRECONDITION ("Workflow Task in
// failed state") until the retried task succeeds. A retry helps in every case.
const UNAVAILABLE_CODES = new Set([
  1 /* CANCELLED */, 4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */, 9 /* FAILED_PRECONDITION */,
  14 /* UNAVAILABLE */,
]);

const FASTIFY_CODES: Record<string, { status: number; error: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'PayloadTooLarge' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, error: 'UnsupportedMediaType' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, error: 'InvalidRequest' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, error: 'InvalidRequest' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, error: 'InvalidRequest' },
  FST_ERR_BAD_URL: { status: 400, error: 'InvalidRequest' },
};

export function toErrorResponse(err: unknown): { status: number; body: ErrorBody; unexpected: boolean } {
  if (err instanceof ApiError) {
    return { status: err.statusCode, body: { error: err.code, message: err.message }, unexpected: false };
  }
  if (err instanceof SnapshotError) {
    return {
      // Own keys only: a type named like an Object.prototype property is no status.
      status: ownValue(STATUS_BY_ERROR_TYPE, err.type) ?? 400,
      body: { error: err.type, message: err.message },
      unexpected: false,
    };
  }
  if (err instanceof InvalidListRequest) {
    return {
      status: 400,
      body: { error: ErrorType.invalidRequest, message: err.message },
      unexpected: false,
    };
  }
  const fe = err as Partial<FastifyError> | null;
  if (fe && Array.isArray(fe.validation)) {
    return {
      status: 400,
      body: { error: ErrorType.invalidRequest, message: fe.message ?? 'invalid request' },
      unexpected: false,
    };
  }
  const known = fe?.code ? ownValue(FASTIFY_CODES, fe.code) : undefined;
  if (known) {
    return {
      status: known.status,
      body: { error: known.error, message: fe?.message ?? '' },
      unexpected: false,
    };
  }
  const code = grpcCode(err);
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    return {
      status: 503,
      body: {
        error: 'TemporalUnavailable',
        message: 'the Temporal service did not answer in time; retry later',
      },
      unexpected: false,
    };
  }
  // Other framework errors with a client status (e.g. a malformed header) keep their status and text.
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500 && typeof fe?.code === 'string' && fe.code.startsWith('FST_')) {
    return {
      status,
      body: { error: 'InvalidRequest', message: fe.message ?? 'invalid request' },
      unexpected: false,
    };
  }
  return { status: 500, body: { error: 'InternalError', message: 'internal error' }, unexpected: true };
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body, unexpected } = toErrorResponse(err);
  if (unexpected) request.log.error({ err }, 'request failed');
  else if (status >= 500) request.log.warn({ err: (err as Error)?.message, status }, 'request refused');
  void reply.code(status).type('application/json; charset=utf-8').send(body);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  void reply.code(404).send({
    error: 'NotFound',
    message: `no route for ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}`,
  });
}
