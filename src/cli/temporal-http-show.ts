// `snapkeeper show` over the frontend's HTTP API (see temporal-http.ts): the workflow's state query
// (its rejection tells a closed workflow's status), printed by show-output.ts exactly as the client
// path prints it. Anything else (a failed query, an HTTP error) leaves the answer to the client path.
import { snapshotWorkflowId } from '../contract/names.js';
import type { SnapshotWorkflowView } from '../contract/snapshot-types.js';
import { UsageError } from './cli-errors.js';
import { ExitCode } from './exit-codes.js';
import type { OutputStream } from './runtime.js';
import { printNoWorkflow, printShow } from './show-output.js';
import type { HttpEndpoint } from './temporal-http.js';
import {
  HttpApiError,
  NO_SHORTHAND,
  decodePayload,
  httpEndpoint,
  isFullPayload,
  requestJson,
  sayFallback,
  statusName,
} from './temporal-http.js';

const GRPC_NOT_FOUND = 5;
// The query waits for a worker; a stuck one is the client path's to report, as it does today.
const QUERY_TIMEOUT_MS = 15_000;

/**
 * The state query's answer, one payload in full (asked with noPayloadShorthand): the JSON shorthand
 * reads `retiring: []` back as `retiring: null` and sorts the keys (seen on server 1.29.1).
 */
function queryView(body: unknown): SnapshotWorkflowView {
  const b = body as { queryResult?: { payloads?: unknown[] }; queryRejected?: unknown };
  if (b.queryRejected) throw new Error('query rejected');
  const first = b.queryResult?.payloads?.[0];
  if (!isFullPayload(first)) throw new Error('the query answer is not a payload');
  const view = decodePayload(first) as SnapshotWorkflowView | undefined;
  if (!view || typeof view !== 'object' || !Array.isArray(view.retiring))
    throw new Error('unexpected query answer');
  return view;
}

async function show(
  endpoint: HttpEndpoint,
  streams: { stdout: OutputStream; stderr: OutputStream },
  projectId: string,
  workItemId: string,
  json: boolean | undefined,
): Promise<number> {
  const workflowId = snapshotWorkflowId(projectId, workItemId);
  const queryUrl = `${endpoint.base}/workflows/${encodeURIComponent(workflowId)}/query/state?${NO_SHORTHAND}`;
  // One request for the common case: a query that the server rejects unless the workflow is open
  // answers both "running" and the state, so no describe is needed. Only a closed workflow costs a
  // second query (without the condition: the worker replays it), its status read from the rejection.
  let first: unknown;
  try {
    first = await requestJson(queryUrl, {
      method: 'POST',
      body: JSON.stringify({ queryRejectCondition: 'QUERY_REJECT_CONDITION_NOT_OPEN' }),
      timeoutMs: QUERY_TIMEOUT_MS,
    });
  } catch (err) {
    if (!(err instanceof HttpApiError && err.code === GRPC_NOT_FOUND)) throw err;
    printNoWorkflow(streams.stderr, projectId, workItemId, workflowId);
    return ExitCode.notFound;
  }
  const rejected = (first as { queryRejected?: { status?: unknown } }).queryRejected;
  const status = rejected ? statusName(rejected.status) : 'running';
  const body = rejected
    ? await requestJson(queryUrl, { method: 'POST', body: '{}', timeoutMs: QUERY_TIMEOUT_MS })
    : first;
  const view = queryView(body);
  printShow(streams.stdout, { projectId, workItemId, workflowId, status, view, queryError: null }, json);
  return ExitCode.ok;
}

/** The exit code when the HTTP path answered; undefined when the client path must answer instead. */
export async function showOverHttp(
  env: NodeJS.ProcessEnv,
  globals: { address?: string; namespace?: string },
  streams: { stdout: OutputStream; stderr: OutputStream },
  projectId: string,
  workItemId: string,
  options: { json?: boolean },
): Promise<number | undefined> {
  try {
    const endpoint = httpEndpoint(env, globals);
    if (!endpoint) return undefined;
    return await show(endpoint, streams, projectId, workItemId, options.json);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    sayFallback(streams.stderr, env, err);
    return undefined;
  }
}
