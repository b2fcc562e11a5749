// The typed client routers use. Plain `fetch`, no dependencies: it runs wherever Node 20 does.
import type {
  CreateLeaseBody,
  LeaseGrant,
  PullRequestRef,
  RegisterOutcome,
  RegisterSnapshotBody,
  RegisterResult,
  SnapshotPage,
  SnapshotState,
  SnapshotStatus,
  SnapshotSummary,
} from './contract.js';

export interface SnapkeeperClientOptions {
  /** e.g. http://snapkeeper:8080 */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** Per-request timeout; registrations wait for the image check on the Docker host. Default 60 s. */
  timeoutMs?: number;
  /** Another fetch (tests, proxies); the global one by default. */
  fetch?: typeof fetch;
}

export type RegisterSnapshotInput = RegisterSnapshotBody;

export interface ListSnapshotsOptions {
  projectId?: string;
  state?: SnapshotStatus;
  host?: string;
  pageSize?: number;
  cursor?: string;
  /** 'full' fills imageId, createdAt and lastUsedAt with one workflow query per item. */
  view?: 'summary' | 'full';
}

export interface InvalidateOptions {
  /** The image the caller means (`imageId` of register or lookup). */
  imageId?: string;
}

/** A lookup's answer: the snapshot to start from, or why there is none. */
export type LookupAnswer =
  { snapshot: SnapshotState; miss?: undefined } | { snapshot: null; miss: { code: string; message: string } };

/** A refusal or failure of the API: `status` is the HTTP status, `code` the `error` field. */
export class SnapkeeperApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SnapkeeperApiError';
  }
}

const seg = encodeURIComponent;

export class SnapkeeperClient {
  private readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(options: SnapkeeperClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.fetchFn = options.fetch ?? globalThis.fetch;
  }

  /** Registers (or re-registers) an image; `outcome` tells created, replaced or unchanged. */
  async register(input: RegisterSnapshotInput): Promise<RegisterResult> {
    const body = await this.request<SnapshotState & { outcome: RegisterOutcome }>('POST', '/v1/snapshots', {
      body: input,
    });
    const { outcome, ...snapshot } = body.data;
    return { outcome, snapshot };
  }

  /** The reuse lookup: the active snapshot, or null on a miss (see lookupWithReason for why). */
  async lookup(projectId: string, workItemId: string): Promise<SnapshotState | null> {
    return (await this.lookupWithReason(projectId, workItemId)).snapshot;
  }

  /**
   * The reuse lookup with the reason of a miss: SnapshotNotFound, or ChainTooDeep when the
   * snapshot has too many layers to commit from again (start the next job from its base image).
   */
  async lookupWithReason(projectId: string, workItemId: string): Promise<LookupAnswer> {
    const res = await this.request<SnapshotState | { error: string; message: string }>(
      'GET',
      `/v1/snapshots/${seg(projectId)}/${seg(workItemId)}`,
      { allow404: true },
    );
    if (res.status !== 404) return { snapshot: res.data as SnapshotState };
    const miss = res.data as { error: string; message: string };
    return { snapshot: null, miss: { code: miss.error, message: miss.message } };
  }

  /**
   * true when accepted; false when the work item had no active snapshot. With `imageId`, only that
   * image is invalidated: when another image is current, nothing is, and this throws a
   * SnapkeeperApiError with status 409 and code ImageNotCurrent.
   */
  async invalidate(
    projectId: string,
    workItemId: string,
    reason?: string,
    options: InvalidateOptions = {},
  ): Promise<boolean> {
    const params = new URLSearchParams();
    if (reason) params.set('reason', reason);
    if (options.imageId) params.set('imageId', options.imageId);
    const query = params.size > 0 ? `?${params.toString()}` : '';
    const res = await this.request('DELETE', `/v1/snapshots/${seg(projectId)}/${seg(workItemId)}${query}`, {
      allow404: true,
    });
    return res.status !== 404;
  }

  /** The linked snapshot, or null when the work item has no active snapshot. */
  async linkPullRequest(
    projectId: string,
    workItemId: string,
    pullRequest: PullRequestRef,
  ): Promise<SnapshotState | null> {
    const res = await this.request<SnapshotState>(
      'PUT',
      `/v1/snapshots/${seg(projectId)}/${seg(workItemId)}/pull-request`,
      { body: pullRequest, allow404: true },
    );
    return res.status === 404 ? null : res.data;
  }

  /**
   * A lease for a commit in flight: label the commit with it (commitSnapshot's `lease` option does)
   * and the reconciler leaves the image alone until the lease ends, whatever its age.
   */
  async createLease(input: CreateLeaseBody): Promise<LeaseGrant> {
    return (await this.request<LeaseGrant>('POST', '/v1/leases', { body: input })).data;
  }

  /**
   * Ends a lease: true when it was live or had already ended (idempotent), false when the API does
   * not know it. A registration that names the lease (`leaseId`) releases it by itself.
   */
  async releaseLease(leaseId: string): Promise<boolean> {
    const res = await this.request('DELETE', `/v1/leases/${seg(leaseId)}`, { allow404: true });
    return res.status !== 404;
  }

  /** One page; pass `nextCursor` back as `cursor` for the next one. */
  async list(options: ListSnapshotsOptions = {}): Promise<SnapshotPage> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(options)) if (v !== undefined) params.set(k, String(v));
    const query = params.size > 0 ? `?${params.toString()}` : '';
    return (await this.request<SnapshotPage>('GET', `/v1/snapshots${query}`)).data;
  }

  /** Every page, one item at a time. */
  async *listAll(options: Omit<ListSnapshotsOptions, 'cursor'> = {}): AsyncGenerator<SnapshotSummary> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...options, ...(cursor ? { cursor } : {}) });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  private async request<T = unknown>(
    method: string,
    path: string,
    options: { body?: unknown; allow404?: boolean } = {},
  ): Promise<{ status: number; data: T }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchFn(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new SnapkeeperApiError(0, 'NetworkError', `${method} ${path}: ${message}`);
    }
    const text = await res.text();
    let data: unknown = undefined;
    if (text.length > 0) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    const miss =
      isError(data, 'SnapshotNotFound') || isError(data, 'ChainTooDeep') || isError(data, 'LeaseNotFound');
    if (res.ok || (options.allow404 && res.status === 404 && miss)) {
      return { status: res.status, data: data as T };
    }
    const e = data as { error?: unknown; message?: unknown } | undefined;
    throw new SnapkeeperApiError(
      res.status,
      typeof e?.error === 'string' ? e.error : `HTTP${res.status}`,
      typeof e?.message === 'string' ? e.message : `${method} ${path} answered ${res.status}`,
    );
  }
}

function isError(data: unknown, code: string): boolean {
  return typeof data === 'object' && data !== null && (data as { error?: unknown }).error === code;
}
