// A GitHub `pull_request` delivery as GitHub sends it for a merge: the JSON body, its
// HMAC-SHA256 signature with the webhook secret, the event and a fresh delivery id.
import { createHmac, randomUUID } from 'node:crypto';

export interface Delivery {
  deliveryId: string;
  headers: Record<string, string>;
  body: string;
}

export function mergeDelivery(options: {
  secret: string;
  repository: string;
  number: number;
  headRef: string;
  /** GitHub's merged_at; an image registered after it is not ended by the merge. */
  mergedAt: Date;
}): Delivery {
  const deliveryId = randomUUID();
  const [owner] = options.repository.split('/');
  const repo = {
    full_name: options.repository,
    name: options.repository.split('/')[1],
    owner: { login: owner },
  };
  const body = JSON.stringify({
    action: 'closed',
    number: options.number,
    pull_request: {
      number: options.number,
      state: 'closed',
      merged: true,
      merged_at: options.mergedAt.toISOString(),
      closed_at: options.mergedAt.toISOString(),
      head: { ref: options.headRef, repo },
      base: { ref: 'main', repo },
    },
    repository: repo,
  });
  const signature = `sha256=${createHmac('sha256', options.secret).update(body).digest('hex')}`;
  return {
    deliveryId,
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'pull_request',
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': signature,
    },
  };
}
