// What a verified pull_request.closed delivery does (github-receiver.ts dispatches it). A close
// (merged, or unmerged with onCloseWithoutMerge=invalidate) is first handed to its durable
// per-pull-request workflow; only then is it answered 202, so an answered delivery is never lost
// (GitHub does not redeliver by itself). A fast first pass from the API then signals what
// visibility shows right now, so the usual merge ends its snapshots before the answer; both are
// idempotent.
import type { ProjectPolicies } from '../../config/project-policy.js';
import type { Logger } from '../../logging/logger.js';
import type { FindLinkedSnapshots } from '../../service/coalesced-pull-request-lookup.js';
import type { TargetSignaller } from '../../service/signal-pull-request-targets.js';
import { signalPullRequestTargets } from '../../service/signal-pull-request-targets.js';
import { pullRequestEventKey } from '../../contract/names.js';
import type { PullRequestTargetsRequest, SignalledWorkItem } from '../../contract/pull-request-types.js';
import type { ApiSnapshotService, ApiTemporalClient } from '../deps.js';
import { HTTP_LIMITS } from '../http-limits.js';
import { ApiError } from '../errors.js';
import type { ApiMetrics } from '../metrics.js';
import type { PullRequestEvent } from './parse-pull-request-event.js';

export type WebhookOutcome = 'ignored' | 'merged' | 'invalidated';

/**
 * How long the durable workflow's first look waits when the fast pass runs beside it: the fast
 * pass has usually ended the snapshots by then, and the workflow's look and signals no longer
 * compete with the snapshot workflows' own cleanup for the worker and the server.
 */
export const DURABLE_FOLLOW_UP_DELAY_MS = 2_000;

export interface WebhookResult {
  event: string;
  deliveryId: string;
  outcome: WebhookOutcome;
  reason?: string;
  /** The per-pull-request workflow that owns the delivery from now on. */
  workflowId?: string;
  /** What the fast first pass signalled; absent when it did not finish in time. */
  workItems?: SignalledWorkItem[];
}

export interface DispatchDeps {
  service: ApiSnapshotService;
  client: ApiTemporalClient;
  policies: ProjectPolicies;
  onCloseWithoutMerge: 'ignore' | 'invalidate';
  metrics: ApiMetrics;
  log: Logger;
  /** The API's own first pass; off in tests that prove the durable workflow alone. */
  fastPass: boolean;
  /** The fast pass's look, shared by the deliveries that look at the same moment; absent: each looks alone. */
  findLinked?: FindLinkedSnapshots;
}

function signallerOf(service: ApiSnapshotService): TargetSignaller {
  return {
    merged: (p, w, signal) => service.merged(p, w, signal),
    invalidate: (p, w, { reason, ...scope }) => service.invalidate(p, w, reason, scope),
  };
}

/**
 * Where an answered delivery spent its time, in milliseconds (the answer's Server-Timing header):
 * the hand-off to the durable workflow, and beside it the fast pass's visibility look and signals.
 */
export type WebhookTimings = Partial<Record<'hand-off' | 'fast-pass' | 'lookup' | 'signals', number>>;

/** The answer to one delivery: its HTTP status and body. */
export type Dispatched = { status: number; result: WebhookResult; timings?: WebhookTimings };

/** A delivery acknowledged without effect (200). */
export function ignored(deps: DispatchDeps, deliveryId: string, reason: string): Dispatched {
  deps.metrics.webhookDeliveries.inc({ event: 'pull_request', outcome: 'ignored' });
  return { status: 200, result: { event: 'pull_request', deliveryId, outcome: 'ignored', reason } };
}

/** A merged pull request, or (with onCloseWithoutMerge=invalidate) an unmerged close. */
export async function onPullRequestClosed(
  deps: DispatchDeps,
  event: PullRequestEvent,
  deliveryId: string,
): Promise<Dispatched> {
  const { service, client, metrics, log } = deps;
  const base = { event: 'pull_request', deliveryId };
  if (!event.merged && deps.onCloseWithoutMerge !== 'invalidate')
    return ignored(deps, deliveryId, 'closed without merge');

  const at = event.merged ? event.mergedAt : event.closedAt;
  const request: PullRequestTargetsRequest = {
    kind: event.merged ? 'merged' : 'closed',
    pullRequest: { repository: event.repository, number: event.number },
    deliveryId,
    // Names the close-without-merge workflow and de-duplicates signals: from the signed body only.
    eventKey: pullRequestEventKey(at, event.headSha),
    ...(at ? { at } : {}),
    branchTargets: deps.policies.workItemsForPullRequest(event),
  };
  const outcome: WebhookOutcome = event.merged ? 'merged' : 'invalidated';
  const timings: WebhookTimings = {};
  const started = performance.now();
  // The fast pass runs beside the hand-off instead of after it: the image leaves the disk without
  // waiting for the durable workflow to start, and the answer still waits for the hand-off.
  const firstPass = deps.fastPass
    ? fastPass(
        deps,
        request,
        Math.min(HTTP_LIMITS.webhookFastPassMs, HTTP_LIMITS.webhookAnswerMs),
        timings,
      ).finally(() => {
        timings['fast-pass'] = performance.now() - started;
      })
    : undefined;
  try {
    const { workflowId } = await client.connection
      .withDeadline(Date.now() + HTTP_LIMITS.webhookHandOffMs, () =>
        service.handOffPullRequestClosed(
          request,
          deps.fastPass ? { startDelayMs: DURABLE_FOLLOW_UP_DELAY_MS } : {},
        ),
      )
      .catch((err: unknown) => {
        // Not handed off means not promised: a non-2xx makes GitHub record the delivery as failed.
        log.warn({ deliveryId, err: err instanceof Error ? err.message : String(err) }, 'hand-off failed');
        throw new ApiError(
          503,
          'TemporalUnavailable',
          'the pull request could not be handed to Temporal in time; redeliver it (redelivery is harmless)',
        );
      });
    timings['hand-off'] = performance.now() - started;
    const workItems = firstPass ? await firstPass : undefined;
    metrics.webhookDeliveries.inc({ event: 'pull_request', outcome });
    log.info(
      { deliveryId, repository: event.repository, number: event.number, outcome, workflowId, workItems },
      'pull request closed',
    );
    return {
      status: 202,
      result: { ...base, outcome, workflowId, ...(workItems ? { workItems } : {}) },
      timings,
    };
  } catch (err) {
    metrics.webhookDeliveries.inc({ event: 'pull_request', outcome: 'failed' });
    throw err;
  }
}

/** Best effort: anything it misses or fails, the durable workflow does. */
async function fastPass(
  deps: DispatchDeps,
  request: PullRequestTargetsRequest,
  withinMs: number,
  timings: WebhookTimings,
): Promise<SignalledWorkItem[] | undefined> {
  const kind = request.kind === 'merged' ? 'merged' : 'invalidate';
  try {
    const { workItems, failures } = await deps.client.connection.withDeadline(Date.now() + withinMs, () =>
      signalPullRequestTargets(deps.client, signallerOf(deps.service), request, {
        onPhase: (phase, ms) => {
          timings[phase] = ms;
        },
        ...(deps.findLinked ? { findLinked: deps.findLinked } : {}),
      }),
    );
    const key = (w: { projectId: string; workItemId: string }) => `${w.projectId}\u0000${w.workItemId}`;
    const failed = new Set(failures.map((f) => key(f.target)));
    for (const w of workItems) {
      const result = failed.has(key(w)) ? 'failed' : w.signalled ? 'sent' : 'no-workflow';
      deps.metrics.webhookSignals.inc({ kind, result });
    }
    if (failed.size > 0) {
      deps.log.warn(
        { deliveryId: request.deliveryId, failed: failed.size, of: workItems.length },
        'fast pass: some signals failed; the pull request workflow retries them',
      );
    }
    return workItems;
  } catch (err) {
    deps.log.warn(
      { deliveryId: request.deliveryId, err: err instanceof Error ? err.message : String(err) },
      'fast pass failed; the pull request workflow signals instead',
    );
    return undefined;
  }
}
