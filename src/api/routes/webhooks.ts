// GitHub webhooks. The signature covers the raw body, so this route keeps the bytes (its own
// content-type parser) and verifies them with @octokit/webhooks before reading anything else.
// A merged pull request ends the snapshots linked to it and the work items its branch maps to.
import { Webhooks } from '@octokit/webhooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { REPOSITORY_PATTERN } from '../../shared/limits.js';
import { snapshotWorkflowId } from '../../shared/names.js';
import type { WorkItemRef } from '../../service/find-snapshots-by-pull-request.js';
import { findSnapshotsByPullRequest } from '../../service/find-snapshots-by-pull-request.js';
import type { RouteDeps } from '../deps.js';
import { LIMITS } from '../deps.js';
import { ApiError } from '../errors.js';
import { webhookResponseSchema } from '../schemas.js';

const EVENT_NAME = /^[a-z_]{1,64}$/;
const DELIVERY_ID = /^[A-Za-z0-9._-]{1,128}$/;

export type WebhookOutcome = 'ignored' | 'merged' | 'invalidated';

export interface WebhookResult {
  event: string;
  deliveryId: string;
  outcome: WebhookOutcome;
  reason?: string;
  workItems?: Array<WorkItemRef & { signalled: boolean }>;
}

interface PullRequestClosed {
  repository: string;
  number: number;
  headRef: string;
  merged: boolean;
  /** ISO time of the merge, when GitHub gave one. */
  mergedAt?: string;
  /** ISO time of the close, when GitHub gave one. */
  closedAt?: string;
}

/**
 * GitHub's merged_at (and closed_at) has whole seconds; a merge "at 10:00:05Z" happened before 10:00:06, so the
 * end of that second is the bound the workflow compares image creation times with (an image
 * registered within that second is still ended by the merge, never wrongly spared).
 */
export function mergedAtBound(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  const wholeSeconds = !/\.\d+/.test(value);
  return new Date(wholeSeconds ? ms + 999 : ms).toISOString();
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function malformed(message: string): ApiError {
  return new ApiError(400, 'MalformedPayload', message);
}

/** The signed body as the text GitHub signed (JSON, or the `payload` field of a form post). */
function parsePayload(raw: Buffer, contentType: string | undefined): Record<string, unknown> {
  let text = raw.toString('utf8');
  if (contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) throw malformed('form-encoded delivery without a payload field');
    text = payload;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('the payload is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw malformed('the payload is not a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function readPullRequest(payload: Record<string, unknown>): { action: string; pr?: PullRequestClosed } {
  const action = payload.action;
  if (typeof action !== 'string') throw malformed('pull_request payload without an action');
  const pr = payload.pull_request as Record<string, unknown> | undefined;
  const repo = payload.repository as Record<string, unknown> | undefined;
  if (typeof pr !== 'object' || pr === null) throw malformed('pull_request payload without pull_request');
  if (typeof repo !== 'object' || repo === null) throw malformed('pull_request payload without repository');
  const number = pr.number ?? payload.number;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > 2 ** 31 - 1)
    throw malformed('pull_request.number must be a positive integer');
  const repository = repo.full_name;
  if (typeof repository !== 'string' || !REPOSITORY_PATTERN.test(repository))
    throw malformed('repository.full_name must be "owner/name"');
  const head = pr.head as Record<string, unknown> | undefined;
  const headRef = head?.ref;
  if (typeof headRef !== 'string') throw malformed('pull_request.head.ref must be a string');
  const merged = pr.merged;
  if (merged !== undefined && merged !== null && typeof merged !== 'boolean')
    throw malformed('pull_request.merged must be a boolean');
  const mergedAt = mergedAtBound(pr.merged_at);
  const closedAt = mergedAtBound(pr.closed_at);
  return {
    action,
    pr: {
      repository,
      number,
      headRef,
      merged: merged === true,
      ...(mergedAt ? { mergedAt } : {}),
      ...(closedAt ? { closedAt } : {}),
    },
  };
}

export async function webhookRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { service, client, policies, config, metrics, log } = deps;
  const secret = config.github.webhookSecret;
  const webhooks = secret ? new Webhooks({ secret }) : undefined;

  // Keep the body as bytes, whatever its type: the signature is over exactly these bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  async function signalAll(pr: PullRequestClosed, deliveryId: string): Promise<WebhookResult['workItems']> {
    const kind = pr.merged ? 'merged' : 'invalidate';
    return client.connection.withDeadline(Date.now() + LIMITS.webhookDeadlineMs, async () => {
      const targets = new Map<string, WorkItemRef>();
      for (const w of await findSnapshotsByPullRequest(client, {
        repository: pr.repository,
        number: pr.number,
      }))
        targets.set(snapshotWorkflowId(w.projectId, w.workItemId), w);
      for (const w of policies.workItemsForBranch(pr.repository, pr.headRef))
        targets.set(snapshotWorkflowId(w.projectId, w.workItemId), w);
      const list = [...targets.values()];
      const results = await Promise.allSettled(
        list.map((w) =>
          pr.merged
            ? service.merged(w.projectId, w.workItemId, {
                pullRequest: { repository: pr.repository, number: pr.number },
                deliveryId,
                ...(pr.mergedAt ? { mergedAt: pr.mergedAt } : {}),
              })
            : service.invalidate(
                w.projectId,
                w.workItemId,
                `pull request ${pr.repository}#${pr.number} closed without merge (delivery ${deliveryId})`,
                pr.closedAt,
              ),
        ),
      );
      const failures: unknown[] = [];
      const workItems = list.map((w, i) => {
        const r = results[i] as PromiseSettledResult<boolean>;
        if (r.status === 'rejected') failures.push(r.reason);
        const signalled = r.status === 'fulfilled' && r.value;
        metrics.webhookSignals.inc({
          kind,
          result: r.status === 'rejected' ? 'failed' : signalled ? 'sent' : 'no-workflow',
        });
        return { ...w, signalled };
      });
      if (failures.length > 0) {
        log.warn(
          {
            deliveryId,
            failed: failures.length,
            of: list.length,
            err: String((failures[0] as Error)?.message),
          },
          'webhook signals failed',
        );
        throw new ApiError(
          503,
          'SignalFailed',
          `${failures.length} of ${list.length} work items could not be signalled; redeliver the webhook (redelivery is harmless)`,
        );
      }
      return workItems;
    });
  }

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<WebhookResult> {
    if (!webhooks) {
      metrics.webhookDeliveries.inc({ event: 'unverified', outcome: 'unconfigured' });
      throw new ApiError(
        503,
        'WebhookSecretMissing',
        'GITHUB_WEBHOOK_SECRET is not configured: every delivery is refused',
      );
    }
    const signature = header(request, 'x-hub-signature-256');
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const valid =
      signature !== undefined && raw.length > 0
        ? await webhooks.verify(raw.toString('utf8'), signature).catch(() => false)
        : false;
    if (!valid) {
      metrics.webhookDeliveries.inc({ event: 'unverified', outcome: 'bad-signature' });
      request.log.warn(
        { delivery: header(request, 'x-github-delivery')?.slice(0, 128) },
        'webhook signature rejected',
      );
      throw new ApiError(
        401,
        'InvalidSignature',
        signature === undefined
          ? 'the X-Hub-Signature-256 header is missing'
          : 'the X-Hub-Signature-256 signature does not match the body',
      );
    }
    const event = header(request, 'x-github-event');
    const deliveryId = header(request, 'x-github-delivery');
    try {
      if (!event || !EVENT_NAME.test(event))
        throw malformed('the X-GitHub-Event header is missing or invalid');
      if (!deliveryId || !DELIVERY_ID.test(deliveryId))
        throw malformed('the X-GitHub-Delivery header is missing or invalid');
      const payload = parsePayload(raw, header(request, 'content-type'));
      if (event !== 'pull_request') {
        metrics.webhookDeliveries.inc({ event, outcome: 'ignored' });
        return { event, deliveryId, outcome: 'ignored', reason: `event ${event} is not handled` };
      }
      const { action, pr } = readPullRequest(payload);
      if (action !== 'closed' || !pr) {
        metrics.webhookDeliveries.inc({ event, outcome: 'ignored' });
        return { event, deliveryId, outcome: 'ignored', reason: `action ${action} is not handled` };
      }
      if (!pr.merged && config.onCloseWithoutMerge !== 'invalidate') {
        metrics.webhookDeliveries.inc({ event, outcome: 'ignored' });
        return { event, deliveryId, outcome: 'ignored', reason: 'closed without merge' };
      }
      const workItems = await signalAll(pr, deliveryId);
      const outcome: WebhookOutcome = pr.merged ? 'merged' : 'invalidated';
      metrics.webhookDeliveries.inc({ event, outcome });
      request.log.info(
        { deliveryId, repository: pr.repository, number: pr.number, outcome, workItems },
        'pull request closed',
      );
      void reply.code(200);
      return { event, deliveryId, outcome, workItems };
    } catch (err) {
      const outcome = err instanceof ApiError && err.statusCode === 400 ? 'malformed' : 'failed';
      metrics.webhookDeliveries.inc({ event: event && EVENT_NAME.test(event) ? event : 'unknown', outcome });
      throw err;
    }
  }

  app.post(
    '/webhooks/github',
    {
      bodyLimit: LIMITS.webhookBodyBytes,
      config: {
        openapi: {
          summary: 'GitHub webhook receiver',
          description:
            'Verifies X-Hub-Signature-256 against GITHUB_WEBHOOK_SECRET. pull_request closed with merged=true ' +
            'signals merged to every open snapshot linked to that pull request and to the work items the ' +
            'branch rules derive from pull_request.head.ref. A close without merge is ignored unless ' +
            'SNAPKEEPER_ON_CLOSE_WITHOUT_MERGE=invalidate. Other events are acknowledged and ignored. ' +
            'Redelivery of the same X-GitHub-Delivery is harmless.',
          tags: ['webhooks'],
          headers: [
            { name: 'X-Hub-Signature-256', required: true, description: 'sha256=<HMAC of the raw body>' },
            { name: 'X-GitHub-Event', required: true, description: 'e.g. pull_request, ping, push' },
            { name: 'X-GitHub-Delivery', required: true, description: 'The delivery id (GUID)' },
          ],
          requestBody: {
            description: 'The GitHub event payload (up to 25 MB)',
            contentTypes: ['application/json', 'application/x-www-form-urlencoded'],
          },
          responses: {
            '200': {
              description: 'Handled (merged or invalidated) or acknowledged and ignored',
              schema: webhookResponseSchema,
              example: {
                event: 'pull_request',
                deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
                outcome: 'merged',
                workItems: [{ projectId: 'acme', workItemId: 'TICKET-42', signalled: true }],
              },
            },
            '400': { description: 'MalformedPayload: signed, but not a readable event' },
            '401': {
              description: 'InvalidSignature: missing, forged or stale signature; nothing is signalled',
            },
            '413': { description: 'PayloadTooLarge: over 25 MB' },
            '503': {
              description:
                'WebhookSecretMissing (no secret configured: every delivery is refused), ' +
                'SignalFailed or TemporalUnavailable (redeliver later)',
            },
          },
        },
      },
    },
    handle,
  );
}
