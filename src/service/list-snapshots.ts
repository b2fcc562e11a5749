// Snapshot listings through Temporal visibility: no state of our own, so any API replica answers
// the same. Visibility is eventually consistent (a change shows up after a short delay), and it
// only holds what the workflows publish as search attributes; see toSnapshotSummary.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import { ID_PATTERN, HOST_ID_PATTERN, REPOSITORY_PATTERN } from '../contract/limits.js';
import { parseSnapshotWorkflowId } from '../contract/names.js';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes.js';
import type {
  PullRequestRef,
  SnapshotPage,
  SnapshotStatus,
  SnapshotSummary,
} from '../contract/snapshot-types.js';
import { SNAPSHOT_STATUSES } from '../contract/snapshot-types.js';
import type { RawExecutionInfo, VisibilityClient } from './visibility.js';
import { InvalidListRequest, RUNNING, attributeEquals, snapshotWorkflowsQuery } from './visibility.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** Temporal's numeric WorkflowExecutionStatus → the name the API shows. */
const EXECUTION_STATUS: Record<number, string> = {
  1: 'running',
  2: 'completed',
  3: 'failed',
  4: 'canceled',
  5: 'terminated',
  6: 'continued-as-new',
  7: 'timed-out',
};

export interface ListSnapshotsFilter {
  projectId?: string;
  state?: SnapshotStatus;
  host?: string;
  pageSize?: number;
  cursor?: string;
}

/**
 * Without a state, the open workflows (snapshots on disk or leaving it). A state of the living
 * (active, invalidated, removal-blocked) also asks for open workflows, so a terminated workflow's
 * last published state never shows as alive; `removed` and `kept` list closed ones too, within retention.
 */
export function buildListQuery(filter: Pick<ListSnapshotsFilter, 'projectId' | 'state' | 'host'>): string {
  const conditions: string[] = [];
  if (filter.projectId !== undefined) {
    if (!ID_PATTERN.test(filter.projectId)) throw new InvalidListRequest('projectId is not a valid id');
    conditions.push(attributeEquals('projectId', filter.projectId));
  }
  if (filter.host !== undefined) {
    if (!HOST_ID_PATTERN.test(filter.host)) throw new InvalidListRequest('host is not a valid host id');
    conditions.push(attributeEquals('host', filter.host));
  }
  if (filter.state !== undefined) {
    if (!SNAPSHOT_STATUSES.includes(filter.state))
      throw new InvalidListRequest(`state must be one of ${SNAPSHOT_STATUSES.join(', ')}`);
    conditions.push(attributeEquals('state', filter.state));
  } else conditions.push(`${SEARCH_ATTRIBUTES.state} IS NOT NULL`);
  // Removed and kept are where a snapshot ends: its workflow is closed.
  if (filter.state !== 'removed' && filter.state !== 'kept') conditions.push(RUNNING);
  return snapshotWorkflowsQuery(...conditions);
}

// A cursor is Temporal's page token with a version byte and a checksum over the query and the
// token in front. The server spends its whole deadline retrying a token it cannot read, so a
// garbled, forged or foreign cursor (from another filter) is refused here at once instead.
const CURSOR_VERSION = 1;
const CHECKSUM_BYTES = 8;

function cursorChecksum(query: string, token: Uint8Array): Buffer {
  return createHash('sha256').update(query).update('\0').update(token).digest().subarray(0, CHECKSUM_BYTES);
}

export function encodeCursor(token: Uint8Array | null | undefined, query: string): string | null {
  if (!token || token.length === 0) return null;
  return Buffer.concat([Buffer.from([CURSOR_VERSION]), cursorChecksum(query, token), token]).toString(
    'base64url',
  );
}

export function decodeCursor(cursor: string | undefined, query: string): Uint8Array | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const invalid = () => new InvalidListRequest('cursor is not valid for this query');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  const raw = Buffer.from(cursor, 'base64url');
  if (raw.length <= 1 + CHECKSUM_BYTES || raw[0] !== CURSOR_VERSION) throw invalid();
  const token = raw.subarray(1 + CHECKSUM_BYTES);
  if (!timingSafeEqual(raw.subarray(1, 1 + CHECKSUM_BYTES), cursorChecksum(query, token))) throw invalid();
  return new Uint8Array(token);
}

function decodeAttribute(payload: Payload | undefined): unknown {
  if (!payload) return undefined;
  try {
    const value: unknown = defaultPayloadConverter.fromPayload(payload);
    // Keyword lists come back as arrays; every attribute read here holds one value.
    return Array.isArray(value) ? value[0] : value;
  } catch {
    return undefined;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Builds a summary from one execution's search attributes; undefined when it never published one. */
export function toSnapshotSummary(raw: RawExecutionInfo): SnapshotSummary | undefined {
  const workflowId = raw.execution?.workflowId ?? '';
  const fields = raw.searchAttributes?.indexedFields ?? {};
  const get = (name: string) => decodeAttribute(fields[name]);
  const ids = parseSnapshotWorkflowId(workflowId);
  const projectId = str(get(SEARCH_ATTRIBUTES.projectId)) ?? ids?.projectId;
  const workItemId = str(get(SEARCH_ATTRIBUTES.workItemId)) ?? ids?.workItemId;
  const state = str(get(SEARCH_ATTRIBUTES.state));
  if (!projectId || !workItemId || !state) return undefined;
  const expires = get(SEARCH_ATTRIBUTES.expiresAt);
  const expiresAt =
    expires instanceof Date ? expires.toISOString() : typeof expires === 'string' ? expires : '';
  const repository = str(get(SEARCH_ATTRIBUTES.repository));
  const prNumber = Number(get(SEARCH_ATTRIBUTES.pullRequest));
  const pullRequest: PullRequestRef | null =
    repository && REPOSITORY_PATTERN.test(repository) && Number.isInteger(prNumber) && prNumber > 0
      ? { repository, number: prNumber }
      : null;
  const size = Number(get(SEARCH_ATTRIBUTES.sizeBytes));
  return {
    projectId,
    workItemId,
    image: str(get(SEARCH_ATTRIBUTES.image)) ?? '',
    imageId: null,
    host: str(get(SEARCH_ATTRIBUTES.host)) ?? '',
    state: state as SnapshotStatus,
    createdAt: null,
    expiresAt,
    lastUsedAt: null,
    sizeBytes: Number.isFinite(size) ? size : 0,
    pullRequest,
    workflowId,
    workflowStatus: EXECUTION_STATUS[raw.status ?? 0] ?? 'unknown',
  };
}

/** One page of snapshots matching the filter; the cursor is Temporal's page token, base64url. */
export async function listSnapshots(
  client: VisibilityClient,
  filter: ListSnapshotsFilter,
): Promise<SnapshotPage> {
  const pageSize = Math.min(Math.max(filter.pageSize ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
  const query = buildListQuery(filter);
  const nextPageToken = decodeCursor(filter.cursor, query);
  let response;
  try {
    response = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query,
      pageSize,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
  } catch (err) {
    // INVALID_ARGUMENT: a token the server refuses even though its checksum matched.
    if (nextPageToken && grpcCode(err) === 3)
      throw new InvalidListRequest('cursor is not valid for this query');
    throw err;
  }
  const items: SnapshotSummary[] = [];
  for (const raw of response.executions ?? []) {
    const item = toSnapshotSummary(raw);
    if (item) items.push(item);
  }
  return { items, nextCursor: encodeCursor(response.nextPageToken, query) };
}

export function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
