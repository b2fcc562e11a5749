import type { TLSConfig } from '@temporalio/client';
import { toClientOptions } from '@temporalio/envconfig';
import type { TemporalConnectionConfig } from '../config/config.js';

/** What both connection kinds (client and worker) take: the same fields, built in one place. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/**
 * The connection options of the validated configuration, exactly as Temporal's SDKs and CLIs read
 * the same settings: TLS when a TLS setting or an API key is present, a client certificate for
 * mTLS, the server CA and name when the server's certificate needs them.
 */
export function temporalConnectionOptions(temporal: TemporalConnectionConfig): TemporalConnectionOptions {
  const { connectionOptions } = toClientOptions({
    address: temporal.address,
    namespace: temporal.namespace,
    ...(temporal.apiKey ? { apiKey: temporal.apiKey } : {}),
    ...(temporal.tls ? { tls: temporal.tls } : {}),
    grpcMeta: temporal.grpcMeta,
  });
  const options: TemporalConnectionOptions = { address: temporal.address };
  if (connectionOptions.tls !== undefined && connectionOptions.tls !== null)
    options.tls = connectionOptions.tls;
  if (temporal.apiKey) options.apiKey = temporal.apiKey;
  if (Object.keys(temporal.grpcMeta).length > 0) options.metadata = { ...temporal.grpcMeta };
  return options;
}

/** For start-up logs: how the process talks to Temporal, without any secret. */
export function describeTemporalConnection(temporal: TemporalConnectionConfig): {
  address: string;
  namespace: string;
  transport: 'plaintext' | 'tls' | 'mtls';
  apiKey: boolean;
} {
  const tls = temporalConnectionOptions(temporal).tls;
  const transport =
    tls === undefined || tls === false
      ? 'plaintext'
      : typeof tls === 'object' && tls.clientCertPair
        ? 'mtls'
        : 'tls';
  return {
    address: temporal.address,
    namespace: temporal.namespace,
    transport,
    apiKey: Boolean(temporal.apiKey),
  };
}
