// Visibility queries over snapshot workflows, built one way for every caller (the API's listings,
// the pull-request lookup, the reconciler and the budget), and one page of their workflow ids.
import type { Payload } from '@temporalio/common';
import type { WorkflowIdPage } from '../contract/reconcile-types.js';
import type { SearchAttributeField } from '../contract/search-attributes.js';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes.js';
import { WORKFLOW_TYPES } from '../contract/names.js';

/** A listing or lookup the caller got wrong (a bad filter or cursor): the API answers 400. */
export class InvalidListRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidListRequest';
  }
}

/** A visibility string literal; every value reaching here was validated, this is the last guard. */
export function visibilityLiteral(value: string): string {
  if (/['"\\\n\r]/.test(value))
    throw new InvalidListRequest(`unsupported characters in ${JSON.stringify(value)}`);
  return `'${value}'`;
}

/** Open workflows only: a closed one holds nothing, whatever it last published. */
export const RUNNING = `ExecutionStatus = 'Running'`;

/** `Attribute = value` for one of the snapshot search attributes. */
export function attributeEquals(field: SearchAttributeField, value: string | number): string {
  if (typeof value === 'number' && !Number.isInteger(value))
    throw new InvalidListRequest(`${field} must be an integer`);
  return `${SEARCH_ATTRIBUTES[field]} = ${typeof value === 'number' ? value : visibilityLiteral(value)}`;
}

/** Snapshot workflows meeting every condition. */
export function snapshotWorkflowsQuery(...conditions: string[]): string {
  return [`WorkflowType = ${visibilityLiteral(WORKFLOW_TYPES.snapshot)}`, ...conditions].join(' AND ');
}

/** The slice of a Temporal `Client` that visibility listings use (a real Client fits; tests pass fakes). */
export interface VisibilityClient {
  options: { namespace: string };
  workflowService: {
    listWorkflowExecutions(request: {
      namespace: string;
      query: string;
      pageSize: number;
      nextPageToken?: Uint8Array;
    }): Promise<{ executions?: RawExecutionInfo[] | null; nextPageToken?: Uint8Array | null }>;
  };
}

/** One execution as `listWorkflowExecutions` returns it; only the fields read here. */
export interface RawExecutionInfo {
  execution?: { workflowId?: string | null } | null;
  status?: number | null;
  searchAttributes?: { indexedFields?: Record<string, Payload> | null } | null;
}

/** Visibility's page size is capped by the server (1,000 by default). */
const MAX_VISIBILITY_PAGE = 1000;

/** One page of a visibility query's workflow ids, with the token for the next one. */
export async function listWorkflowIdsPage(
  client: VisibilityClient,
  query: string,
  pageToken: string | null,
  pageSize: number,
): Promise<WorkflowIdPage> {
  const response = await client.workflowService.listWorkflowExecutions({
    namespace: client.options.namespace,
    query,
    pageSize: Math.max(1, Math.min(pageSize, MAX_VISIBILITY_PAGE)),
    ...(pageToken ? { nextPageToken: Buffer.from(pageToken, 'base64') } : {}),
  });
  const workflowIds = (response.executions ?? []).flatMap((e) =>
    e.execution?.workflowId ? [e.execution.workflowId] : [],
  );
  const token = response.nextPageToken;
  return { workflowIds, next: token && token.length > 0 ? Buffer.from(token).toString('base64') : null };
}

/** Every workflow id a query finds, page after page. */
export async function listAllWorkflowIds(
  client: VisibilityClient,
  query: string,
  pageSize: number,
): Promise<string[]> {
  const ids: string[] = [];
  let token: string | null = null;
  do {
    const page = await listWorkflowIdsPage(client, query, token, pageSize);
    ids.push(...page.workflowIds);
    token = page.next;
  } while (token !== null);
  return ids;
}
