// GitHub webhooks: verify -> parse -> dispatch. The headers are checked before the body is read
// (webhook-preflight.ts); @octokit/webhooks verifies the signature and dispatches the event by its
// action (github-receiver.ts); a closed pull request is handed to its durable workflow before the
// answer (dispatch-pull-request.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { coalescedPullRequestLookup } from '../../service/coalesced-pull-request-lookup.js';
import type { RouteDeps } from '../deps.js';
import { HTTP_LIMITS } from '../http-limits.js';
import { ApiError } from '../errors.js';
import type { WebhookResult } from '../webhooks/dispatch-pull-request.js';
import { githubReceiver } from '../webhooks/github-receiver.js';
import { parsePayload, readPullRequestEvent } from '../webhooks/parse-pull-request-event.js';
import { WEBHOOK_OPENAPI } from '../webhooks/webhook-openapi.js';
import { deliveryHeaders, webhookPreflight } from '../webhooks/webhook-preflight.js';

export type { WebhookOutcome, WebhookResult } from '../webhooks/dispatch-pull-request.js';

/**
 * A W3C Server-Timing value (`name;dur=ms, …`): what an answered delivery waited on, for an
 * operator's (or the benchmark's) look at a slow webhook without a tracer.
 */
function serverTiming(timings: Record<string, number | undefined>): string {
  return Object.entries(timings)
    .flatMap(([name, ms]) => (ms === undefined ? [] : [`${name};dur=${ms.toFixed(1)}`]))
    .join(', ');
}

export async function webhookRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { service, client, policies, config, metrics, log } = deps;
  const secret = config.github.webhookSecret;
  const dispatchDeps = {
    service,
    client,
    policies,
    onCloseWithoutMerge: config.onCloseWithoutMerge,
    metrics,
    log,
    fastPass: deps.webhookFastPass ?? true,
    // One per API process: concurrent deliveries of a repository share their visibility look, each
    // shared query under the fast pass's own deadline (a delivery waits at most for the query in
    // flight and then its own: two fast-pass deadlines, within the answer's).
    findLinked: coalescedPullRequestLookup(client, {
      runQuery: (query) => client.connection.withDeadline(Date.now() + HTTP_LIMITS.webhookFastPassMs, query),
    }),
  };
  // Without a secret there is no receiver: the preflight refuses every delivery (503).
  const receiver = secret ? githubReceiver(dispatchDeps, secret) : undefined;

  // Keep the body as bytes, whatever its type: the signature is over exactly these bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<WebhookResult> {
    const { signature, deliveryId } = deliveryHeaders(request);
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const verifyStart = performance.now();
    const verified = receiver ? await receiver.verify(raw, signature) : false;
    const verifyMs = performance.now() - verifyStart;
    if (!receiver || !verified) {
      metrics.webhookDeliveries.inc({ event: 'unverified', outcome: 'bad-signature' });
      request.log.warn({ delivery: deliveryId }, 'webhook signature rejected');
      throw new ApiError(
        401,
        'InvalidSignature',
        'the X-Hub-Signature-256 signature does not match the body',
      );
    }
    let payload;
    let event;
    try {
      payload = parsePayload(raw, request.headers['content-type']);
      event = readPullRequestEvent(payload);
    } catch (err) {
      metrics.webhookDeliveries.inc({ event: 'pull_request', outcome: 'malformed' });
      throw err;
    }
    const { status, result, timings } = await receiver.receive(event, payload, deliveryId);
    void reply.code(status);
    if (timings) void reply.header('server-timing', serverTiming({ verify: verifyMs, ...timings }));
    return result;
  }

  app.post(
    '/webhooks/github',
    {
      bodyLimit: HTTP_LIMITS.webhookBodyBytes,
      onRequest: webhookPreflight(secret !== undefined, metrics),
      config: {
        openapi: WEBHOOK_OPENAPI,
      },
    },
    handle,
  );
}
