// The CLI's one way to reach Temporal: the shared connection module, so TLS, API keys and
// profiles work exactly as they do for the workers and the API.
import type { Client, Connection } from '@temporalio/client';
import type { Config } from '../config/config.js';
import { connectClient } from '../temporal/connect-client.js';
import { TemporalUnreachable } from './cli-errors.js';

export interface TemporalSession {
  connection: Connection;
  client: Client;
  close(): Promise<void>;
}

export { TemporalUnreachable };

export async function connectTemporal(config: Config, connectTimeoutMs = 5_000): Promise<TemporalSession> {
  const { address } = config.temporal;
  let connected;
  try {
    connected = await connectClient(config, { connectTimeoutMs });
  } catch (err) {
    throw new TemporalUnreachable(
      `cannot reach Temporal at ${address}: ${err instanceof Error ? err.message : String(err)} (set TEMPORAL_ADDRESS or --address)`,
    );
  }
  const { connection, client } = connected;
  return { connection, client, close: () => connection.close() };
}
