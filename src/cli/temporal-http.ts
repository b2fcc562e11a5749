// The CLI's fast path to Temporal: the frontend's HTTP/JSON API (grpc-gateway; `temporal server
// start-dev --http-port`, a cluster's frontend.rpc.httpPort), used by `show` and `ls` when
// TEMPORAL_HTTP_ADDRESS is set. Loading @temporalio/client and the configuration schema costs
// about a second before the first call; this module loads only node:net (http-exchange.ts, one
// HTTP/1.1 exchange; node:http costs more to load and run, see there). It does not use the global
// fetch either: Node 20 loads undici on the first fetch, measured at ~1.1 s on a loaded machine,
// against ~0.3 s for node:http (docs/cli.md). Anything it cannot answer the same way as the
// Temporal client (TLS, API keys, profiles, gRPC headers, an HTTP error) goes back to the client.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './cli-errors.js';
import { httpExchange } from './http-exchange.js';
import type { OutputStream } from './runtime.js';

export interface HttpEndpoint {
  /** http://host:port/api/v1/namespaces/<namespace> */
  base: string;
}

/** Why the fast path is not taken, said once on stderr at debug level. */
export class FastPathDeclined extends Error {
  override name = 'FastPathDeclined';
}

const ADDRESS = /^(?:http:\/\/)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})\/?$/;

/** The gRPC client's settings the HTTP path does not carry: with any of them set, the client answers. */
const CLIENT_ONLY = [
  /^TEMPORAL_API_KEY$/,
  /^TEMPORAL_TLS/,
  /^TEMPORAL_PROFILE$/,
  /^TEMPORAL_CONFIG_FILE$/,
  /^TEMPORAL_GRPC_META_/,
];

/**
 * The endpoint for this environment; undefined when TEMPORAL_HTTP_ADDRESS is not set. Throws
 * UsageError for an address that is not host:port, FastPathDeclined when the client must answer.
 */
export function httpEndpoint(
  env: NodeJS.ProcessEnv,
  globals: { address?: string; namespace?: string },
): HttpEndpoint | undefined {
  const raw = env.TEMPORAL_HTTP_ADDRESS;
  if (raw === undefined || raw === '') return undefined;
  const m = ADDRESS.exec(raw);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535)
    throw new UsageError(
      `invalid snapkeeper configuration:\n  TEMPORAL_HTTP_ADDRESS: not host:port or http://host:port (${raw})`,
    );
  const set = Object.keys(env).find((k) => env[k] && CLIENT_ONLY.some((p) => p.test(k)));
  if (set) throw new FastPathDeclined(`${set} is set`);
  // --address names another frontend than the one TEMPORAL_HTTP_ADDRESS belongs to.
  if (globals.address) throw new FastPathDeclined('--address is given');
  // The default profile file may carry TLS, an API key or a namespace.
  if (existsSync(join(homedir(), '.config', 'temporalio', 'temporal.toml')))
    throw new FastPathDeclined('~/.config/temporalio/temporal.toml exists');
  const namespace = globals.namespace || env.TEMPORAL_NAMESPACE || 'default';
  return { base: `http://${m[1]}:${m[2]}/api/v1/namespaces/${encodeURIComponent(namespace)}` };
}

/** A non-2xx answer; `code` is the gRPC status code in its body (5 = not found). */
export class HttpApiError extends Error {
  override name = 'HttpApiError';
  constructor(
    readonly status: number,
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** One request with a JSON answer; a deadline, never a hang. */
export async function requestJson(
  url: string,
  options: { method?: 'GET' | 'POST'; body?: string; timeoutMs: number },
): Promise<unknown> {
  const answer = await httpExchange(url, {
    method: options.method ?? 'GET',
    headers: {
      accept: 'application/json',
      ...(options.body ? { 'content-type': 'application/json' } : {}),
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
    timeoutMs: options.timeoutMs,
  });
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    throw new HttpApiError(answer.status, undefined, `not JSON (HTTP ${answer.status})`);
  }
  if (answer.status >= 200 && answer.status < 300) return body;
  const b = body as { code?: unknown; message?: unknown };
  throw new HttpApiError(
    answer.status,
    typeof b.code === 'number' ? b.code : undefined,
    `HTTP ${answer.status}: ${String(b.message)}`,
  );
}

/** A payload as the HTTP API writes it: metadata and data base64, or JSON shorthand (the value itself). */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/**
 * Payloads in full (metadata and data base64), as the SDK reads them: the server's default JSON
 * shorthand is lossy (an empty list inside a value comes back as null).
 */
export const NO_SHORTHAND = 'noPayloadShorthand=true';

export function isFullPayload(p: unknown): p is JsonPayload {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return false;
  const meta = (p as { metadata?: unknown }).metadata;
  return (
    typeof meta === 'object' && meta !== null && typeof (meta as { encoding?: unknown }).encoding === 'string'
  );
}

/**
 * A payload's value as the SDK's default payload converter reads it: json/plain is JSON, binary/null
 * is undefined; a shorthand value is itself. Any other encoding throws (the client must answer).
 */
export function decodePayload(p: unknown): unknown {
  if (!isFullPayload(p)) return p;
  const encoding = Buffer.from(p.metadata?.encoding ?? '', 'base64').toString('utf8');
  if (encoding === 'binary/null') return undefined;
  if (encoding === 'json/plain') return JSON.parse(Buffer.from(p.data ?? '', 'base64').toString('utf8'));
  throw new Error(`payload encoding ${encoding} is not read by the HTTP path`);
}

/** Temporal's WorkflowExecutionStatus as the HTTP API names it, lower case without its prefix. */
export function statusName(status: unknown): string {
  return typeof status === 'string'
    ? status.replace(/^WORKFLOW_EXECUTION_STATUS_/, '').toLowerCase()
    : 'unspecified';
}

/** WorkflowExecutionStatus numbers, as the gRPC client reports them (0 when unknown). */
const STATUS_NUMBER: Record<string, number> = {
  running: 1,
  completed: 2,
  failed: 3,
  canceled: 4,
  terminated: 5,
  continued_as_new: 6,
  timed_out: 7,
};

export function statusNumber(status: unknown): number {
  return STATUS_NUMBER[statusName(status)] ?? 0;
}

/** A search attribute as list-snapshots.ts reads it: keyword lists hold one value here; unreadable is undefined. */
export function decodeAttribute(payload: unknown): unknown {
  try {
    const value = decodePayload(payload);
    return Array.isArray(value) ? value[0] : value;
  } catch {
    return undefined;
  }
}

/** Says why the client answers instead, on stderr, only with SNAPKEEPER_LOG_LEVEL debug or trace. */
export function sayFallback(stderr: OutputStream, env: NodeJS.ProcessEnv, why: unknown): void {
  if (env.SNAPKEEPER_LOG_LEVEL !== 'debug' && env.SNAPKEEPER_LOG_LEVEL !== 'trace') return;
  stderr.write(
    `snapkeeper: HTTP fast path not taken (${why instanceof Error ? why.message : String(why)}); using the Temporal client\n`,
  );
}
