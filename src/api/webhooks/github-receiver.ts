// The receiver of verified GitHub deliveries, on @octokit/webhooks (GitHub's own): its verify
// checks the signature (verify-signature.ts), and its typed `on('pull_request.closed')` dispatch
// picks what a delivery does by `event.action`. Every other action is acknowledged and ignored.
import type { EmitterWebhookEvent } from '@octokit/webhooks';
import { Webhooks } from '@octokit/webhooks';
import type { DispatchDeps, Dispatched } from './dispatch-pull-request.js';
import { ignored, onPullRequestClosed } from './dispatch-pull-request.js';
import type { PullRequestEvent } from './parse-pull-request-event.js';
import { verifySignature } from './verify-signature.js';

export interface GithubReceiver {
  /** Whether X-Hub-Signature-256 is the HMAC of exactly these bytes. */
  verify(body: Buffer, signature: string): Promise<boolean>;
  /** Dispatches a verified, parsed pull_request delivery; resolves to its answer. */
  receive(event: PullRequestEvent, payload: object, deliveryId: string): Promise<Dispatched>;
}

/** One delivery under way: its facts, and the answer its handler gives. */
interface Delivery {
  event: PullRequestEvent;
  deliveryId: string;
  answer?: Dispatched;
}

export function githubReceiver(deps: DispatchDeps, secret: string): GithubReceiver {
  const webhooks = new Webhooks({ secret });
  // Octokit hands each handler the payload object it was given, so the payload itself is the key
  // of its delivery: concurrent deliveries, even under one delivery id, never see each other's.
  const deliveries = new WeakMap<object, Delivery>();

  webhooks.on('pull_request.closed', async ({ payload }) => {
    const delivery = deliveries.get(payload);
    if (delivery) delivery.answer = await onPullRequestClosed(deps, delivery.event, delivery.deliveryId);
  });

  return {
    verify: (body, signature) => verifySignature(webhooks, secret, body, signature),
    async receive(event, payload, deliveryId) {
      const delivery: Delivery = { event, deliveryId };
      deliveries.set(payload, delivery);
      try {
        // readPullRequestEvent has checked the fields snapkeeper reads; octokit's type names the rest.
        const typed = payload as EmitterWebhookEvent<'pull_request'>['payload'];
        await webhooks.receive({ id: deliveryId, name: 'pull_request', payload: typed });
      } catch (err) {
        throw handlerError(err);
      }
      return delivery.answer ?? ignored(deps, deliveryId, `action ${event.action} is not handled`);
    },
  };
}

/** Octokit wraps what handlers throw in an AggregateError; the one handler's error is the answer. */
function handlerError(err: unknown): unknown {
  return err instanceof AggregateError && err.errors.length === 1 ? err.errors[0] : err;
}
