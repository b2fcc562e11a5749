// The OpenAPI description of POST /webhooks/github, kept apart so the route shows only what it does.
import { HTTP_LIMITS } from '../http-limits.js';
import { webhookResponseSchema } from '../schemas.js';

export const WEBHOOK_OPENAPI = {
  summary: 'GitHub webhook receiver',
  description:
    'Verifies X-Hub-Signature-256 against GITHUB_WEBHOOK_SECRET over the raw body. A pull_request closed ' +
    'with merged=true is handed to its durable per-pull-request workflow (202), which signals merged to every ' +
    'open snapshot linked to that pull request and to the work items the branch rules derive from ' +
    'pull_request.head.ref (same-repository pull requests only, never forks), and looks again later for ' +
    'links visibility did not show yet. A close without merge is ignored unless ' +
    'SNAPKEEPER_ON_CLOSE_WITHOUT_MERGE=invalidate. Other events are acknowledged without reading the body. ' +
    'Sending the same signed body again is harmless, under any X-GitHub-Delivery: a close is identified by ' +
    'its signed closed_at (or merged_at) and head sha, never by the delivery id, which the signature does not cover.',
  tags: ['webhooks'],
  headers: [
    { name: 'X-Hub-Signature-256', required: true, description: 'sha256=<HMAC of the raw body>' },
    { name: 'X-GitHub-Event', required: true, description: 'e.g. pull_request, ping, push' },
    { name: 'X-GitHub-Delivery', required: true, description: 'The delivery id (GUID)' },
  ],
  requestBody: {
    description: `The GitHub event payload (pull_request bodies up to ${HTTP_LIMITS.webhookBodyBytes / 1024 / 1024} MiB)`,
    contentTypes: ['application/json', 'application/x-www-form-urlencoded'],
  },
  responses: {
    '202': {
      description:
        'A closed pull request was handed to its workflow: every snapshot it ends will be signalled. ' +
        'workItems lists what the fast first pass signalled already.',
      schema: webhookResponseSchema,
      example: {
        event: 'pull_request',
        deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
        outcome: 'merged',
        workflowId: 'pull-request:acme%2Fapp:17:merged',
        workItems: [{ projectId: 'acme', workItemId: 'TICKET-42', match: 'link', signalled: true }],
      },
    },
    '200': {
      description: 'Acknowledged and ignored (other events and actions, a close without merge)',
      schema: webhookResponseSchema,
    },
    '400': {
      description:
        'MalformedPayload: X-GitHub-Event or X-GitHub-Delivery missing, or signed but not a readable event',
    },
    '401': {
      description:
        'InvalidSignature: missing, malformed, forged or stale signature (a missing one is refused before the body is read); nothing is signalled',
    },
    '413': {
      description: `PayloadTooLarge: a pull_request body over ${HTTP_LIMITS.webhookBodyBytes} bytes`,
    },
    '503': {
      description:
        'WebhookSecretMissing (no secret configured: every delivery is refused) or TemporalUnavailable ' +
        '(the hand-off failed: redeliver later)',
    },
  },
};
