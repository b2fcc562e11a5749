// Checks what a delivery must carry before its body is read: a configured secret, a well-formed
// signature header, the event and delivery headers. A refused request costs no body buffering.
// Events other than pull_request are acknowledged here too: nothing acts on them, so their body
// (a push can be many megabytes) is never read.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiMetrics } from '../metrics.js';
import { ApiError } from '../errors.js';
import { SIGNATURE_PATTERN } from './verify-signature.js';

export const EVENT_NAME = /^[a-z_]{1,64}$/;
export const DELIVERY_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface DeliveryHeaders {
  signature: string;
  event: string;
  deliveryId: string;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function malformed(message: string): ApiError {
  return new ApiError(400, 'MalformedPayload', message);
}

/** The headers a preflight-checked request carries (the hook has refused every other request). */
export function deliveryHeaders(request: FastifyRequest): DeliveryHeaders {
  return {
    signature: header(request, 'x-hub-signature-256') ?? '',
    event: header(request, 'x-github-event') ?? '',
    deliveryId: header(request, 'x-github-delivery') ?? '',
  };
}

export function webhookPreflight(secretConfigured: boolean, metrics: ApiMetrics) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (!secretConfigured) {
      metrics.webhookDeliveries.inc({ event: 'unverified', outcome: 'unconfigured' });
      throw new ApiError(
        503,
        'WebhookSecretMissing',
        'GITHUB_WEBHOOK_SECRET is not configured: every delivery is refused',
      );
    }
    const signature = header(request, 'x-hub-signature-256');
    if (!signature || !SIGNATURE_PATTERN.test(signature)) {
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
          : 'the X-Hub-Signature-256 header is not "sha256=<64 hex digits>"',
      );
    }
    const event = header(request, 'x-github-event');
    const deliveryId = header(request, 'x-github-delivery');
    if (!event || !EVENT_NAME.test(event)) {
      metrics.webhookDeliveries.inc({ event: 'unknown', outcome: 'malformed' });
      throw malformed('the X-GitHub-Event header is missing or invalid');
    }
    if (!deliveryId || !DELIVERY_ID.test(deliveryId)) {
      metrics.webhookDeliveries.inc({ event, outcome: 'malformed' });
      throw malformed('the X-GitHub-Delivery header is missing or invalid');
    }
    if (event !== 'pull_request') {
      metrics.webhookDeliveries.inc({ event, outcome: 'ignored' });
      return reply
        .code(200)
        .send({ event, deliveryId, outcome: 'ignored', reason: `event ${event} is not handled` });
    }
    return undefined;
  };
}
