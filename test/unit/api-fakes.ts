// In-memory stand-ins for the Temporal client and the snapshot service, so the HTTP layer can be
// tested with fastify's inject: every route, status and error mapping, without a server.
import { createHmac } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Payload } from '@temporalio/common';
import type { ApiServerDeps, ApiSnapshotService, ApiTemporalClient } from '../../src/api/deps.js';
import { createApiMetrics } from '../../src/api/metrics.js';
import { createApiServer } from '../../src/api/server.js';
import type { Config } from '../../src/config/config.js';
import { parseProjectPolicies } from '../../src/config/project-policy.js';
import { createLogger } from '../../src/logging/logger.js';
import type { RawExecutionInfo } from '../../src/service/visibility.js';
import {
  closedPullRequestWorkflowId,
  mergedPullRequestWorkflowId,
  snapshotWorkflowId,
} from '../../src/contract/names.js';
import { SEARCH_ATTRIBUTES } from '../../src/contract/search-attributes.js';
import type {
  InvalidateRequest,
  InvalidateSignal,
  MergedSignal,
  PullRequestRef,
  RegisterResult,
  SnapshotState,
  SnapshotWorkflowView,
} from '../../src/contract/snapshot-types.js';
import type { RegisterInput } from '../../src/service/snapshot-service.js';
import { SnapshotError } from '../../src/service/snapshot-error.js';
import { ErrorType } from '../../src/contract/errors.js';
import type { PullRequestClosedInput } from '../../src/contract/pull-request-types.js';

export const SECRET = 'unit-test-webhook-secret';
export const TOKEN = 'unit-test-token-0123456789';

export function sign(body: string | Buffer, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function state(
  projectId: string,
  workItemId: string,
  extra: Partial<SnapshotState> = {},
): SnapshotState {
  const now = new Date('2025-01-01T00:00:00Z').toISOString();
  return {
    projectId,
    workItemId,
    image: `snap/${projectId.toLowerCase().replace(/[^a-z0-9]+/g, '-')}:1`,
    imageId: `sha256:${'a'.repeat(64)}`,
    host: 'unit-host',
    state: 'active',
    createdAt: now,
    expiresAt: now,
    lastUsedAt: now,
    sizeBytes: 1234,
    ttlSeconds: 3600,
    slidingTtl: false,
    pullRequest: null,
    endReason: null,
    blockedBy: null,
    message: null,
    ...extra,
  };
}

/** What the fake service saw; tests assert on it. */
export interface ServiceCalls {
  register: RegisterInput[];
  lookup: Array<[string, string]>;
  invalidate: Array<[string, string, string]>;
  invalidateScopes: Array<Omit<InvalidateSignal, 'reason'>>;
  invalidateImage: Array<[string, string, InvalidateRequest]>;
  handOff: Array<Omit<PullRequestClosedInput, 'options'>>;
  /** The start delay each hand-off asked for (0: none). */
  handOffDelays: number[];
  merged: Array<[string, string, MergedSignal]>;
  link: Array<[string, string, PullRequestRef]>;
}

export class FakeService implements ApiSnapshotService {
  readonly active = new Map<string, SnapshotState>();
  readonly calls: ServiceCalls = {
    register: [],
    lookup: [],
    invalidate: [],
    invalidateScopes: [],
    invalidateImage: [],
    handOff: [],
    handOffDelays: [],
    merged: [],
    link: [],
  };
  /** Make the hand-off to the pull request workflow fail (e.g. a gRPC UNAVAILABLE). */
  handOffFailWith: Error | undefined;
  /** Make the next calls fail: a SnapshotError, or any error (e.g. a gRPC UNAVAILABLE). */
  failWith: Error | undefined;
  /** Delay of each signal, to make concurrency observable. */
  signalDelayMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  private readonly deliveries = new Map<string, Set<string>>();

  private key(p: string, w: string) {
    return snapshotWorkflowId(p, w);
  }

  private fail(): void {
    if (this.failWith) throw this.failWith;
  }

  private async pause(): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, this.signalDelayMs));
    } finally {
      this.inFlight--;
    }
  }

  register = async (input: RegisterInput): Promise<RegisterResult> => {
    this.calls.register.push(input);
    this.fail();
    const k = this.key(input.projectId, input.workItemId);
    const old = this.active.get(k);
    if (old && old.image === input.image && old.host === input.host)
      return { outcome: 'unchanged', snapshot: old };
    const next = state(input.projectId, input.workItemId, {
      image: input.image,
      host: input.host,
      ttlSeconds: input.ttlSeconds ?? 3600,
      slidingTtl: input.slidingTtl ?? false,
      pullRequest: input.pullRequest ?? null,
    });
    this.active.set(k, next);
    return { outcome: old ? 'replaced' : 'created', snapshot: next };
  };

  lookup = async (p: string, w: string): Promise<SnapshotState | null> => {
    this.calls.lookup.push([p, w]);
    this.fail();
    return this.active.get(this.key(p, w)) ?? null;
  };

  view = async (p: string, w: string): Promise<SnapshotWorkflowView | null> => {
    this.fail();
    const current = this.active.get(this.key(p, w)) ?? null;
    return current ? { current, retiring: [], last: current } : null;
  };

  invalidate = async (
    p: string,
    w: string,
    reason: string,
    scope?: string | Omit<InvalidateSignal, 'reason'>,
  ): Promise<boolean> => {
    this.calls.invalidate.push([p, w, reason]);
    this.calls.invalidateScopes.push(typeof scope === 'string' ? { occurredAt: scope } : (scope ?? {}));
    this.fail();
    await this.pause();
    return this.active.delete(this.key(p, w));
  };

  invalidateImage = async (p: string, w: string, req: InvalidateRequest): Promise<SnapshotState | null> => {
    this.calls.invalidateImage.push([p, w, req]);
    this.fail();
    const k = this.key(p, w);
    const cur = this.active.get(k);
    if (!cur) return null;
    if (req.imageId && req.imageId !== cur.imageId) {
      throw new SnapshotError(ErrorType.imageNotCurrent, `image ${req.imageId} is not the current snapshot`);
    }
    this.active.delete(k);
    return { ...cur, state: 'invalidated', endReason: 'invalidated', message: req.reason };
  };

  handOffPullRequestClosed = async (
    input: Omit<PullRequestClosedInput, 'options'>,
    handOff: { startDelayMs?: number } = {},
  ): Promise<{ workflowId: string }> => {
    this.calls.handOff.push(input);
    this.calls.handOffDelays.push(handOff.startDelayMs ?? 0);
    if (this.handOffFailWith) throw this.handOffFailWith;
    return {
      workflowId:
        input.kind === 'merged'
          ? mergedPullRequestWorkflowId(input.pullRequest)
          : closedPullRequestWorkflowId(input.pullRequest, input.eventKey ?? input.deliveryId),
    };
  };

  merged = async (p: string, w: string, signal: MergedSignal): Promise<boolean> => {
    this.calls.merged.push([p, w, signal]);
    this.fail();
    await this.pause();
    const k = this.key(p, w);
    // Like the workflow: a delivery seen before is ignored (the signal still reaches it).
    const seen = this.deliveries.get(k) ?? new Set<string>();
    this.deliveries.set(k, seen);
    if (signal.deliveryId && seen.has(signal.deliveryId)) return true;
    if (signal.deliveryId) seen.add(signal.deliveryId);
    return this.active.delete(k);
  };

  linkPullRequest = async (p: string, w: string, pr: PullRequestRef): Promise<SnapshotState | null> => {
    this.calls.link.push([p, w, pr]);
    this.fail();
    const k = this.key(p, w);
    const cur = this.active.get(k);
    if (!cur) return null;
    const next = { ...cur, pullRequest: pr };
    this.active.set(k, next);
    return next;
  };
}

function attr(value: unknown): Payload {
  return defaultPayloadConverter.toPayload(value) as Payload;
}

/** A visibility row as the server returns it, from a snapshot's fields. */
export function execution(s: SnapshotState, status = 1): RawExecutionInfo {
  const fields: Record<string, Payload> = {
    [SEARCH_ATTRIBUTES.projectId]: attr(s.projectId),
    [SEARCH_ATTRIBUTES.workItemId]: attr(s.workItemId),
    [SEARCH_ATTRIBUTES.image]: attr(s.image),
    [SEARCH_ATTRIBUTES.host]: attr(s.host),
    [SEARCH_ATTRIBUTES.state]: attr(s.state),
    [SEARCH_ATTRIBUTES.expiresAt]: attr(s.expiresAt),
    [SEARCH_ATTRIBUTES.sizeBytes]: attr(s.sizeBytes),
  };
  if (s.pullRequest) {
    fields[SEARCH_ATTRIBUTES.repository] = attr([s.pullRequest.repository]);
    fields[SEARCH_ATTRIBUTES.pullRequest] = attr(s.pullRequest.number);
  }
  return {
    execution: { workflowId: snapshotWorkflowId(s.projectId, s.workItemId) },
    status,
    searchAttributes: { indexedFields: fields },
  };
}

export class FakeTemporal implements ApiTemporalClient {
  readonly options = { namespace: 'unit' };
  readonly queries: Array<{ query: string; pageSize: number; nextPageToken?: Uint8Array }> = [];
  /** Rows returned per query: the function gets the query text and the page token. */
  rows: (
    query: string,
    token: Uint8Array | undefined,
  ) => { executions: RawExecutionInfo[]; next?: Uint8Array } = () => ({ executions: [] });
  reachable = true;
  listError: Error | undefined;
  deadlines: number[] = [];

  readonly workflowService = {
    listWorkflowExecutions: async (req: {
      namespace: string;
      query: string;
      pageSize: number;
      nextPageToken?: Uint8Array;
    }) => {
      this.queries.push({
        query: req.query,
        pageSize: req.pageSize,
        ...(req.nextPageToken ? { nextPageToken: req.nextPageToken } : {}),
      });
      if (this.listError) throw this.listError;
      const { executions, next } = this.rows(req.query, req.nextPageToken);
      return { executions, nextPageToken: next ?? new Uint8Array() };
    },
    describeNamespace: async (_req: { namespace: string }) => {
      if (!this.reachable) throw Object.assign(new Error('14 UNAVAILABLE: connection refused'), { code: 14 });
      return {};
    },
  };

  readonly connection = {
    withDeadline: <R>(deadline: number | Date, fn: () => Promise<R>): Promise<R> => {
      this.deadlines.push(Number(deadline));
      return fn();
    },
  };
}

export interface Harness {
  app: ReturnType<typeof createApiServer>;
  service: FakeService;
  temporal: FakeTemporal;
  deps: ApiServerDeps;
}

export const POLICY_YAML = `
defaults:
  ttl: 2h
projects:
  acme:
    slidingTtl: true
    ttl: 30m
    branchRules:
      - repository: Codertocat/Hello-World
        pattern: "^(?<workItemId>TICKET-[0-9]+)(-.*)?$"
  other:
    branchRules:
      - repository: Codertocat/Hello-World
        pattern: "^feature/([a-z0-9-]+)$"
  frozen:
    enabled: false
`;

export function buildApp(
  options: {
    token?: string;
    secret?: string | null;
    onCloseWithoutMerge?: Config['onCloseWithoutMerge'];
    policy?: string;
    fastPass?: boolean;
  } = {},
): Harness {
  const service = new FakeService();
  const temporal = new FakeTemporal();
  const deps: ApiServerDeps = {
    config: {
      api: { port: 0, listenHost: '127.0.0.1', token: options.token },
      github: { webhookSecret: options.secret === null ? undefined : (options.secret ?? SECRET) },
      hostId: 'api-default-host',
      onCloseWithoutMerge: options.onCloseWithoutMerge ?? 'ignore',
    },
    service,
    client: temporal,
    policies: parseProjectPolicies(options.policy ?? POLICY_YAML),
    log: createLogger({ level: 'silent' }),
    metrics: createApiMetrics({ defaultMetrics: false }),
    ...(options.fastPass === false ? { webhookFastPass: false } : {}),
  };
  return { app: createApiServer(deps), service, temporal, deps };
}
