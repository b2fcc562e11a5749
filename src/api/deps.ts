// What the HTTP server needs from the rest of snapkeeper, as narrow interfaces: a real Temporal
// Client and SnapshotService fit them, and unit tests pass fakes.
import type { Config } from '../config/config.js';
import type { ProjectPolicies } from '../config/project-policy.js';
import type { Logger } from '../logging/logger.js';
import type { VisibilityClient } from '../service/visibility.js';
import type { SnapshotService } from '../service/snapshot-service.js';
import type { LeaseService } from '../service/lease-service.js';
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
  /** Takes and releases leases (/v1/leases, and the leaseId of a registration); without it they answer 503. */
  leases?: LeaseService;
}

export interface RouteDeps extends Omit<ApiServerDeps, 'metrics'> {
  metrics: ApiMetrics;
}
