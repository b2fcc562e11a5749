// The CLI's one way to reach Temporal. When the shared connection module (environment
// configuration, TLS, API keys) lands, this is the line that changes.
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config/config.js';

export interface TemporalSession {
  connection: Connection;
  client: Client;
  close(): Promise<void>;
}

/** Thrown when the frontend does not answer: the CLI exits with ExitCode.unreachable. */
export class TemporalUnreachable extends Error {
  override name = 'TemporalUnreachable';
}

export async function connectTemporal(config: Config, connectTimeoutMs = 5_000): Promise<TemporalSession> {
  const { address, namespace } = config.temporal;
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: connectTimeoutMs });
  } catch (err) {
    throw new TemporalUnreachable(
      `cannot reach Temporal at ${address}: ${err instanceof Error ? err.message : String(err)} (set TEMPORAL_ADDRESS or --address)`,
    );
  }
  const client = new Client({ connection, namespace });
  return { connection, client, close: () => connection.close() };
}
