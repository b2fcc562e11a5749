// What the control activities (on the workflow queue) share: they reach Temporal through a client,
// which only a worker with a connection has.
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../contract/errors.js';
import type { Logger } from '../logging/logger.js';

export interface ControlDeps {
  /** A Temporal client; the control activities run on the workflow queue, where one exists. */
  client?: Client;
  log: Logger;
}

export function requireClient(client: Client | undefined): Client {
  if (!client) {
    throw ApplicationFailure.nonRetryable(
      'this worker has no Temporal client for control activities (createControlActivities needs `client`)',
      ErrorType.invalidRequest,
    );
  }
  return client;
}
