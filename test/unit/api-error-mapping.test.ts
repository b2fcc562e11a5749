// Temporal being slow or busy is a 503 the caller may retry, never a 500: found by the API fuzz
// test under load (an update's outcome poll cancelled by our deadline; an update refused while the
// workflow's last task had timed out).
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { toErrorResponse } from '../../src/api/errors.js';
import type { ErrorTypeName } from '../../src/contract/errors.js';
import { SnapshotError } from '../../src/service/snapshot-error.js';

const grpc = (code: number, message: string) =>
  Object.assign(new Error(`${code} ${message}`), { code, details: message });

describe('Temporal errors at the API', () => {
  it('an update whose outcome poll was cancelled by the deadline is a 503', () => {
    const err = new WorkflowUpdateRPCTimeoutOrCancelledError('Call cancelled', {
      cause: grpc(1, 'CANCELLED: Call cancelled'),
    });
    expect(toErrorResponse(err)).toMatchObject({
      status: 503,
      body: { error: 'TemporalUnavailable' },
      unexpected: false,
    });
  });

  it('an update refused while the workflow task is in a failed state is a 503', () => {
    const err = grpc(9, 'Unable to perform workflow execution update due to Workflow Task in failed state.');
    expect(toErrorResponse(err)).toMatchObject({ status: 503, unexpected: false });
    const wrapped = new ServiceError('Update-With-Start failed', { cause: err });
    expect(toErrorResponse(wrapped)).toMatchObject({ status: 503, unexpected: false });
  });

  it('other failures stay 500 with a generic message', () => {
    expect(toErrorResponse(grpc(13, 'INTERNAL: boom'))).toMatchObject({
      status: 500,
      body: { error: 'InternalError', message: 'internal error' },
      unexpected: true,
    });
  });
});

describe('error types named like Object.prototype properties', () => {
  it('map to 400, not to an inherited function (the status tables are read by their own keys)', () => {
    for (const type of ['constructor', 'toString', 'hasOwnProperty']) {
      const err = new SnapshotError(type as ErrorTypeName, 'x');
      expect(toErrorResponse(err).status, type).toBe(400);
    }
    const fastify = Object.assign(new Error('x'), { code: 'constructor' });
    expect(toErrorResponse(fastify).status).not.toBeTypeOf('function');
  });
});
