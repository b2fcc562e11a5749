import { Client, Connection } from '@temporalio/client';
import type { TemporalConnectionConfig } from '../config/config.js';
import { temporalConnectionOptions } from './connection-options.js';

export interface ConnectedClient {
  connection: Connection;
  /** Bound to the configured namespace. */
  client: Client;
}

/** A Temporal client for the API, scripts and CLIs, connected as the configuration says. */
export async function connectClient(
  config: { temporal: TemporalConnectionConfig },
  options: { connectTimeoutMs?: number } = {},
): Promise<ConnectedClient> {
  const connection = await Connection.connect({
    ...temporalConnectionOptions(config.temporal),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeout: options.connectTimeoutMs } : {}),
  });
  return { connection, client: new Client({ connection, namespace: config.temporal.namespace }) };
}
