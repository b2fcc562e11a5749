// The words of a failure for a report, a log line or a refusal. Temporal's wrappers (an activity or
// a child workflow failed) say little of their own ("Activity task failed"); their cause says what
// happened, so the cause's message stands in for them.
import { ActivityFailure, ChildWorkflowFailure } from '@temporalio/workflow';

export function failureMessage(err: unknown): string {
  if ((err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) && err.cause)
    return failureMessage(err.cause);
  return err instanceof Error ? err.message : String(err);
}
