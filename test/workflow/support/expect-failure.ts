// What a caller of the workflow sees when it says no: an update refused or failed, or the
// workflow itself failed, each with an ApplicationFailure type and message.
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { expect } from 'vitest';

export interface ExpectedFailure {
  type: string;
  message: string | RegExp;
}

function expectApplicationFailure(cause: unknown, expected: ExpectedFailure): void {
  expect(cause).toBeInstanceOf(ApplicationFailure);
  const failure = cause as ApplicationFailure;
  expect(failure.type).toBe(expected.type);
  if (typeof expected.message === 'string') expect(failure.message).toContain(expected.message);
  else expect(failure.message).toMatch(expected.message);
}

export async function expectUpdateRefused(
  update: Promise<unknown>,
  expected: ExpectedFailure,
): Promise<void> {
  const err = await update.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the update succeeded').toBeInstanceOf(WorkflowUpdateFailedError);
  expectApplicationFailure((err as WorkflowUpdateFailedError).cause, expected);
}

export async function expectWorkflowFailed(
  result: Promise<unknown>,
  expected: ExpectedFailure,
): Promise<void> {
  const err = await result.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the workflow succeeded').toBeInstanceOf(WorkflowFailedError);
  expectApplicationFailure((err as WorkflowFailedError).cause, expected);
}
