import { WorkflowNotFoundError } from '@temporalio/client';

/**
 * Sends a signal to a workflow that may have ended already: a closed snapshot has nothing left to
 * end, so "not found" is an answer (false), not a failure.
 */
export async function signalOpen(send: () => Promise<void>): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
