// A real API server (listening on a real port) in the test process, on the shared dev server,
// in front of an in-process worker. Each test file gets its own host id and repository names.
import { randomUUID } from 'node:crypto';
import type { ApiServer } from '../../src/api/server.js';
import { createApiServer } from '../../src/api/server.js';
import type { ApiMetrics } from '../../src/api/metrics.js';
import { createApiMetrics } from '../../src/api/metrics.js';
import { SnapkeeperClient } from '@snapkeeper/client';
import type { Config } from '../../src/config/config.js';
import { parseProjectPolicies } from '../../src/config/project-policy.js';
import { createLogger } from '../../src/logging/logger.js';
import type { ApiSnapshotService, ApiTemporalClient } from '../../src/api/deps.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import type { Delivery } from '../unit/api-github-payloads.js';

export interface ApiUnderTest {
  app: ApiServer;
  baseUrl: string;
  client: SnapkeeperClient;
  metrics: ApiMetrics;
  close(): Promise<void>;
}

export interface StartApiOptions {
  token?: string;
  /** null: no secret configured. */
  secret?: string | null;
  policyYaml?: string;
  onCloseWithoutMerge?: Config['onCloseWithoutMerge'];
  /** Another Temporal client (e.g. one that cannot connect). */
  temporal?: ApiTemporalClient;
  /** Another snapshot service (e.g. one with short pull request workflow looks). */
  service?: ApiSnapshotService;
  /** false: the webhook only hands off to the pull request workflow. */
  webhookFastPass?: boolean;
}

export const TEST_SECRET = `it-secret-${randomUUID()}`;

export async function startApi(
  worker: InProcessWorker,
  options: StartApiOptions = {},
): Promise<ApiUnderTest> {
  const metrics = createApiMetrics({ defaultMetrics: false });
  const app = createApiServer({
    config: {
      ...worker.config,
      api: { ...worker.config.api, token: options.token },
      github: { webhookSecret: options.secret === null ? undefined : (options.secret ?? TEST_SECRET) },
      onCloseWithoutMerge: options.onCloseWithoutMerge ?? 'ignore',
    },
    service: options.service ?? worker.service,
    ...(options.webhookFastPass === false ? { webhookFastPass: false } : {}),
    client: options.temporal ?? worker.client,
    policies: parseProjectPolicies(options.policyYaml ?? '{}'),
    log: createLogger({ level: 'warn', name: 'api-under-test' }),
    metrics,
  });
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    baseUrl,
    metrics,
    client: new SnapkeeperClient({ baseUrl, ...(options.token ? { token: options.token } : {}) }),
    close: () => app.close(),
  };
}

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
  text: string;
  headers: Headers;
}

export async function http(
  baseUrl: string,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string } = {},
): Promise<HttpAnswer> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: init.headers ?? {},
    ...(init.body !== undefined ? { body: init.body } : {}),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = {};
  }
  return { status: res.status, body, text, headers: res.headers };
}

export function postWebhook(baseUrl: string, d: Delivery): Promise<HttpAnswer> {
  return http(baseUrl, 'POST', '/webhooks/github', { headers: d.headers, body: d.body });
}

export const DEADLINE = { timeoutMs: 60_000 };
