// What a snapshot listing asks visibility and how one execution reads as a summary, with no
// dependency on the Temporal SDK: the CLI's HTTP fast path (src/cli/temporal-http-ls.ts) builds
// the same query and the same rows as the SDK path (list-snapshots.ts) without loading the client.
import { ID_PATTERN, HOST_ID_PATTERN, REPOSITORY_PATTERN } from '../contract/limits.js';
import { parseSnapshotWorkflowId } from '../contract/names.js';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes.js';
import type { PullRequestRef, SnapshotStatus, SnapshotSummary } from '../contract/snapshot-types.js';
import { SNAPSHOT_STATUSES } from '../contract/snapshot-types.js';
import { InvalidListRequest, RUNNING, attributeEquals, snapshotWorkflowsQuery } from './visibility.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** One execution as visibility lists it, whatever carries it (gRPC or the HTTP API); only the fields read here. */
export interface ExecutionFields<P> {
  execution?: { workflowId?: string | null } | null;
  status?: number | null;
  searchAttributes?: { indexedFields?: Record<string, P> | null } | null;
}

/** A search attribute payload's value; undefined when it cannot be read. */
export type AttributeDecoder<P> = (payload: P | undefined) => unknown;

/** Temporal's numeric WorkflowExecutionStatus → the name the API shows. */
export const EXECUTION_STATUS: Record<number, string> = {
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

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Builds a summary from one execution's search attributes; undefined when it never published one. */
export function snapshotSummaryOf<P>(
  raw: ExecutionFields<P>,
  decodeAttribute: AttributeDecoder<P>,
): SnapshotSummary | undefined {
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
