// The start-up wait both local Temporal servers (the CLI's dev server and the server on
// PostgreSQL) share: poll the frontend until it answers and the caller's namespace set-up passes,
// failing at once when the process exits or a search attribute has the wrong type.
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSConfig } from '@temporalio/client';
import { Connection } from '@temporalio/client';
import { SearchAttributeTypeError } from '../../src/service/ensure-search-attributes.js';
import type { ManagedChild } from './managed-child.js';
import { describeExit, tail } from './managed-child.js';

export async function waitTemporalReady(options: {
  /** How the server is named in errors ("temporal dev server"). */
  name: string;
  child: ManagedChild;
  address: string;
  tls?: TLSConfig;
  timeoutMs: number;
  intervalMs: number;
  /** The namespace set-up; ready once it passes. Runs again on the next attempt when it throws. */
  prepare(connection: Connection): Promise<void>;
}): Promise<void> {
  const { name, child, address } = options;
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const exit = child.exitStatus();
    if (exit) throw new Error(`${name} ${describeExit(exit)} during start-up:\n${tail(child.logs())}`);
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({
        address,
        connectTimeout: 2_000,
        ...(options.tls ? { tls: options.tls } : {}),
      });
      await connection.workflowService.getSystemInfo({});
      await options.prepare(connection);
      return;
    } catch (err) {
      if (err instanceof SearchAttributeTypeError) throw err;
      lastError = err;
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await sleep(options.intervalMs);
  }
  throw new Error(
    `${name} at ${address} not ready within ${options.timeoutMs} ms (last error: ${String(lastError)}):\n${tail(child.logs())}`,
  );
}
