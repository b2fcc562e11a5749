// `snapkeeper ls` over the frontend's HTTP API (see temporal-http.ts): the same visibility query
// and the same rows as the client path (snapshot-summary.ts), printed by ls-output.ts. An HTTP
// error leaves the answer to the client path.
import type { SnapshotStatus, SnapshotSummary } from '../contract/snapshot-types.js';
import { MAX_PAGE_SIZE, buildListQuery, snapshotSummaryOf } from '../service/snapshot-summary.js';
import { UsageError } from './cli-errors.js';
import { ExitCode } from './exit-codes.js';
import { printSnapshots } from './ls-output.js';
import { withProgress } from './progress.js';
import type { OutputStream } from './runtime.js';
import type { HttpEndpoint } from './temporal-http.js';
import {
  NO_SHORTHAND,
  decodeAttribute,
  httpEndpoint,
  requestJson,
  sayFallback,
  statusNumber,
} from './temporal-http.js';

const LIST_TIMEOUT_MS = 10_000;

/** One execution as the HTTP API lists it; only the fields read here. */
export interface HttpExecution {
  execution?: { workflowId?: string };
  status?: string;
  searchAttributes?: { indexedFields?: Record<string, unknown> };
}

interface ListAnswer {
  executions?: HttpExecution[];
  nextPageToken?: string;
}

/** The row the client path makes of the same execution (snapshot-summary.ts), from its HTTP form. */
export function httpSnapshotSummary(e: HttpExecution): SnapshotSummary | undefined {
  return snapshotSummaryOf({ ...e, status: statusNumber(e.status) }, decodeAttribute);
}

export interface LsHttpOptions {
  project?: string;
  state?: SnapshotStatus;
  host?: string;
  limit: number;
  json?: boolean;
}

async function list(
  endpoint: HttpEndpoint,
  streams: { stdout: OutputStream; stderr: OutputStream },
  options: LsHttpOptions,
): Promise<number> {
  const query = buildListQuery({
    ...(options.project ? { projectId: options.project } : {}),
    ...(options.state ? { state: options.state } : {}),
    ...(options.host ? { host: options.host } : {}),
  });
  const items: SnapshotSummary[] = [];
  let truncated = false;
  await withProgress(
    'listing snapshots',
    async (progress) => {
      let token: string | undefined;
      do {
        const pageSize = Math.min(MAX_PAGE_SIZE, options.limit - items.length);
        const url = `${endpoint.base}/workflows?query=${encodeURIComponent(query)}&pageSize=${pageSize}${token ? `&nextPageToken=${encodeURIComponent(token)}` : ''}&${NO_SHORTHAND}`;
        const page = (await requestJson(url, { timeoutMs: LIST_TIMEOUT_MS })) as ListAnswer;
        for (const e of page.executions ?? []) {
          const item = snapshotSummaryOf({ ...e, status: statusNumber(e.status) }, decodeAttribute);
          if (item) items.push(item);
        }
        token = page.nextPageToken || undefined;
        progress.update(`listing snapshots: ${items.length}`);
        if (token && items.length >= options.limit) {
          truncated = true;
          break;
        }
      } while (token);
    },
    streams.stderr,
  );
  printSnapshots(streams, items, { ...(options.json ? { json: true } : {}), truncated });
  return ExitCode.ok;
}

/** The exit code when the HTTP path answered; undefined when the client path must answer instead. */
export async function lsOverHttp(
  env: NodeJS.ProcessEnv,
  globals: { address?: string; namespace?: string },
  streams: { stdout: OutputStream; stderr: OutputStream },
  options: LsHttpOptions,
): Promise<number | undefined> {
  try {
    const endpoint = httpEndpoint(env, globals);
    if (!endpoint) return undefined;
    return await list(endpoint, streams, options);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    sayFallback(streams.stderr, env, err);
    return undefined;
  }
}
