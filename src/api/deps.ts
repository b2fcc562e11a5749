// What the HTTP server needs from the rest of snapkeeper, as narrow interfaces: a real Temporal
// Client and SnapshotService fit them, and unit tests pass fakes.
import type { Config } from '../config/config.js';
import type { ProjectPolicies } from '../config/project-policy.js';
import type { Logger } from '../logging/logger.js';
import type { VisibilityClient } from '../service/visibility.js';
import type { SnapshotService } from '../service/snapshot-service.js';
import type { ApiMetrics } from './metrics.js';

export type ApiSnapshotService = Pick<
  SnapshotService,
  | 'register'
  | 'lookup'
  | 'view'
  | 'invalidate'
  | 'invalidateImage'
  | 'merged'
  | 'linkPullRequest'
  | 'handOffPullRequestClosed'
>;

export interface ApiTemporalClient extends VisibilityClient {
  workflowService: VisibilityClient['workflowService'] & {
    describeNamespace(request: { namespace: string }): Promise<unknown>;
  };
  connection: { withDeadline<R>(deadline: number | Date, fn: () => Promise<R>): Promise<R> };
}

export interface ApiServerDeps {
  config: Pick<Config, 'api' | 'github' | 'hostId' | 'onCloseWithoutMerge'> &
    Partial<Pick<Config, 'maxLayerDepth'>>;
  service: ApiSnapshotService;
  client: ApiTemporalClient;
  policies: ProjectPolicies;
  log: Logger;
  /**
   * Whether the webhook signals what visibility shows at once, beside the durable workflow
   * (default true); tests turn it off to prove the workflow alone.
   */
  webhookFastPass?: boolean;
  /** Defaults to a fresh registry with Node's default metrics. */
  metrics?: ApiMetrics;
}

export interface RouteDeps extends Omit<ApiServerDeps, 'metrics'> {
  metrics: ApiMetrics;
}

/** Limits of the HTTP layer; docs/api.md lists them. */
export const LIMITS = {
  /** JSON bodies of /v1. */
  apiBodyBytes: 64 * 1024,
  /**
   * pull_request deliveries (the only ones whose body is read) are tens of KB: GitHub caps a pull
   * request's description at 65,536 characters. Other events are answered without reading them.
   */
  webhookBodyBytes: 1024 * 1024,
  /** Time to receive a whole request (headers and body). */
  requestTimeoutMs: 30_000,
  /** Idle socket timeout; above the slowest handler (a registration waits up to ~20 s for its host). */
  connectionTimeoutMs: 65_000,
  keepAliveTimeoutMs: 5_000,
  /** Temporal deadline of a registration, including the image check on its Docker host. */
  registerDeadlineMs: 45_000,
  /** Temporal deadline of the other /v1 calls. */
  callDeadlineMs: 15_000,
  /** Handing a closed pull request to its workflow: the part of the answer that must succeed. */
  webhookHandOffMs: 8_000,
  /** The API's best-effort first pass of signals, after the hand-off... */
  webhookFastPassMs: 3_000,
  /** ...within what is left of this, so the answer beats GitHub's 10 s timeout. */
  webhookAnswerMs: 9_000,
  readinessDeadlineMs: 2_000,
  /** Concurrent workflow queries of a `view=full` listing. */
  fullViewConcurrency: 8,
} as const;
