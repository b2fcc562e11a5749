import { NativeConnection } from '@temporalio/worker';
import type { TemporalConnectionConfig } from '../config/config.js';
import { temporalConnectionOptions } from './connection-options.js';

/** The workers' connection, with the same options as every client (connectClient). */
export async function connectNative(config: {
  temporal: TemporalConnectionConfig;
}): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(config.temporal));
}
