// Snapshot listings through Temporal visibility: no state of our own, so any API replica answers
// the same. Visibility is eventually consistent (a change shows up after a short delay), and it
// only holds what the workflows publish as search attributes; see toSnapshotSummary.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import type { SnapshotPage, SnapshotSummary } from '../contract/snapshot-types.js';
import type { ListSnapshotsFilter } from './snapshot-summary.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, buildListQuery, snapshotSummaryOf } from './snapshot-summary.js';
import type { RawExecutionInfo, VisibilityClient } from './visibility.js';
import { InvalidListRequest } from './visibility.js';

// The query and the summary live in snapshot-summary.ts (no SDK import, for the CLI's fast path).
export type { ListSnapshotsFilter };
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, buildListQuery };

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

/** Builds a summary from one execution's search attributes; undefined when it never published one. */
export function toSnapshotSummary(raw: RawExecutionInfo): SnapshotSummary | undefined {
  return snapshotSummaryOf(raw, decodeAttribute);
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
