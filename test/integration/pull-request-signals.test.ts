// Merges, closes and invalidations reach the image they were meant for, and nothing else; a merged
// pull request can no longer keep a snapshot alive; the merge webhook is durable once answered.
// Real dev server, real private engine, real `docker commit` images.
import { randomUUID } from 'node:crypto';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapkeeperApiError } from '@snapkeeper/client';
import type { SnapshotService } from '../../src/service/snapshot-service.js';
import { SnapshotError } from '../../src/service/snapshot-error.js';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import { mergedPullRequestWorkflowId, snapshotWorkflowId } from '../../src/contract/names.js';
import type { RegisterResult } from '../../src/contract/snapshot-types.js';
import type { PullRequestClosedResult } from '../../src/contract/pull-request-types.js';
import type { SnapshotWorkflowResult } from '../../src/workflows/snapshot/workflow.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { TEST_WORKFLOW_OPTIONS, startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { newDocker, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { delivery, pullRequestEvent } from '../unit/api-github-payloads.js';
import type { ApiUnderTest } from './api-helpers.js';
import { DEADLINE, TEST_SECRET, postWebhook, startApi } from './api-helpers.js';

const RUN = randomUUID().slice(0, 8);
const HOST = `pr-signals-${RUN}`;
const REPO = `it-org/pr-signals-${RUN}`;

type Ids = { projectId: string; workItemId: string };

let worker: InProcessWorker;
let docker: Dockerode;
/** The webhook hands off only: whatever ends, the durable pull request workflow ended it. */
let durableOnly: ApiUnderTest;
let service: SnapshotService;
let nextPr = 1;

beforeAll(async () => {
  docker = newDocker();
  worker = await startInProcessWorker({ hostId: HOST });
  service = createSnapshotService({
    client: worker.client,
    defaultTtlSeconds: 3600,
    workflowOptions: TEST_WORKFLOW_OPTIONS,
    // Every visibility page holds 2 links; a second look 3 s after the first.
    pullRequestWorkflowOptions: { lookDelaysSeconds: [3], pageSize: 2 },
  });
  durableOnly = await startApi(worker, { service, webhookFastPass: false });
});

afterAll(async () => {
  await durableOnly?.close();
  await worker?.stop();
});

async function image(ids: Ids) {
  return makeSnapshotImage(docker, { ...ids, labels: 'managed' });
}

async function register(ids: Ids, img: { image: string }, pr?: number, host = HOST): Promise<RegisterResult> {
  return service.register({
    ...ids,
    image: img.image,
    host,
    ...(pr ? { pullRequest: { repository: REPO, number: pr } } : {}),
  });
}

async function waitGone(imageId: string, what: string) {
  await waitFor(async () => !(await imageExists(docker, imageId)), {
    ...DEADLINE,
    message: `${what}: image ${imageId} still on the engine`,
  });
}

async function endReason(ids: Ids) {
  const handle = worker.client.workflow.getHandle(snapshotWorkflowId(ids.projectId, ids.workItemId));
  return ((await handle.result()) as SnapshotWorkflowResult).last?.endReason;
}

function mergeDelivery(pr: number, options: { deliveryId?: string; headRef?: string } = {}) {
  const payload = pullRequestEvent({
    repository: REPO,
    number: pr,
    headRef: options.headRef ?? 'some-branch',
  });
  return delivery(
    'pull_request',
    payload,
    TEST_SECRET,
    options.deliveryId ? { deliveryId: options.deliveryId } : {},
  );
}

/** Waits until the work item's registration is in flight: its image check is queued on `host`. */
async function inspectionPending(ids: Ids, host: string) {
  const handle = worker.client.workflow.getHandle(snapshotWorkflowId(ids.projectId, ids.workItemId));
  await waitFor(
    async () => {
      const d = await handle.describe();
      return (d.raw.pendingActivities ?? []).some(
        (a) => a.activityType?.name === 'inspectSnapshotImage' && a.activityId !== undefined,
      );
    },
    {
      ...DEADLINE,
      message: `the registration of ${ids.workItemId} did not reach its image check on ${host}`,
    },
  );
}

/**
 * A host whose Docker worker is not up yet holds a registration in its image check; starting the
 * worker lets it finish. Same engine, another queue.
 */
async function slowHost() {
  const hostId = `pr-slow-${randomUUID().slice(0, 8)}`;
  return {
    hostId,
    start: () => startInProcessWorker({ hostId, env: { SNAPKEEPER_WORKER_ROLES: 'docker' } }),
  };
}

describe('signals reach only the image they were meant for', () => {
  it('a merge (or close) found through an old link does not end a newer image that is not linked to that pull request', async () => {
    const ids = uniqueIds('pr-newer');
    const pr = nextPr++;
    const other = nextPr++;
    const a = await image(ids);
    expect((await register(ids, a, pr)).outcome).toBe('created');
    // Replaced by an image without a link, then by one linked to another pull request.
    const b = await image(ids);
    expect((await register(ids, b)).outcome).toBe('replaced');
    await waitGone(a.imageId, 'replaced image');
    const mergedPr = { repository: REPO, number: pr };
    const at = new Date(Date.now() + 1000).toISOString();
    await service.merged(ids.projectId, ids.workItemId, {
      pullRequest: mergedPr,
      deliveryId: randomUUID(),
      match: 'link',
      mergedAt: at,
    });
    expect((await service.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(b.imageId);
    // Nor does a close without merge of that pull request.
    await service.invalidate(ids.projectId, ids.workItemId, 'closed without merge', {
      pullRequest: mergedPr,
      match: 'link',
      occurredAt: at,
    });
    expect((await service.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(b.imageId);

    const c = await image(ids);
    expect((await register(ids, c, other)).outcome).toBe('replaced');
    // Even a branch rule's merge does not end an image linked to another pull request.
    await service.merged(ids.projectId, ids.workItemId, {
      pullRequest: mergedPr,
      deliveryId: randomUUID(),
      match: 'branch',
      mergedAt: at,
    });
    expect((await service.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(c.imageId);
    expect(await imageExists(docker, c.imageId)).toBe(true);

    // The merge of its own pull request does end it.
    await service.merged(ids.projectId, ids.workItemId, {
      pullRequest: { repository: REPO, number: other },
      deliveryId: randomUUID(),
      match: 'link',
      mergedAt: new Date(Date.now() + 1000).toISOString(),
    });
    await waitGone(c.imageId, 'image of the merged pull request');
    expect(await endReason(ids)).toBe('merged');
  });

  it('DELETE naming an image that is no longer current answers 409 and leaves the current one; naming the current one ends it', async () => {
    const ids = uniqueIds('pr-delete');
    const a = await image(ids);
    await register(ids, a);
    const b = await image(ids);
    expect((await register(ids, b)).outcome).toBe('replaced');
    const refused = await durableOnly.client
      .invalidate(ids.projectId, ids.workItemId, 'meant for a', { imageId: a.imageId })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(SnapkeeperApiError);
    expect(refused).toMatchObject({ status: 409, code: 'ImageNotCurrent' });
    expect((await service.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(b.imageId);
    expect(
      await durableOnly.client.invalidate(ids.projectId, ids.workItemId, 'meant for b', {
        imageId: b.imageId,
      }),
    ).toBe(true);
    await waitGone(b.imageId, 'invalidated image');
    expect(await endReason(ids)).toBe('invalidated');
  });

  it('an image registered a moment after an invalidation was received is not ended by it', async () => {
    const ids = uniqueIds('pr-inv-race');
    const slow = await slowHost();
    const a = await image(ids);
    await register(ids, a);
    const b = await image(ids);
    // The registration of b waits in its image check: b is not current yet.
    const pending = register(ids, b, undefined, slow.hostId);
    await inspectionPending(ids, slow.hostId);
    expect(await durableOnly.client.invalidate(ids.projectId, ids.workItemId, 'tests failed')).toBe(true);
    const hostWorker = await slow.start();
    try {
      const result = await pending;
      expect(result.snapshot.imageId).toBe(b.imageId);
      await waitGone(a.imageId, 'invalidated image');
      expect((await service.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(b.imageId);
      expect(await imageExists(docker, b.imageId)).toBe(true);
      await service.invalidate(ids.projectId, ids.workItemId, 'test over');
      await waitGone(b.imageId, 'second image');
    } finally {
      await hostWorker.stop();
    }
  });
});

describe('a merged pull request keeps nothing alive', () => {
  it('a merge that arrives while a registration linked to it is being checked ends that registration: 409 PullRequestMerged, image removed', async () => {
    const ids = uniqueIds('pr-reg-race');
    const pr = nextPr++;
    const slow = await slowHost();
    const a = await image(ids);
    await register(ids, a, pr);
    const b = await image(ids);
    const pending = register(ids, b, pr, slow.hostId).catch((err: unknown) => err);
    await inspectionPending(ids, slow.hostId);
    const res = await postWebhook(durableOnly.baseUrl, mergeDelivery(pr));
    expect(res.status).toBe(202);
    // The check of b goes on only now, after the merge was answered.
    const hostWorker = await slow.start();
    try {
      await waitGone(a.imageId, 'merged image');
      const refused = await pending;
      expect(refused).toBeInstanceOf(SnapshotError);
      expect(refused).toMatchObject({ type: 'PullRequestMerged' });
      await waitGone(b.imageId, 'image registered for a merged pull request');
      expect(await endReason(ids)).toBe('merged');
    } finally {
      await hostWorker.stop();
    }
  });

  it('after a merge, neither a registration nor a link to that pull request keeps a snapshot alive, in any work item', async () => {
    const pr = nextPr++;
    const first = uniqueIds('pr-record');
    const a = await image(first);
    await register(first, a, pr);
    expect((await postWebhook(durableOnly.baseUrl, mergeDelivery(pr))).status).toBe(202);
    await waitGone(a.imageId, 'merged image');

    // Another work item registers an image linked to the merged pull request.
    const second = uniqueIds('pr-record-reg');
    const b = await image(second);
    const refused = await register(second, b, pr).catch((err: unknown) => err);
    expect(refused).toMatchObject({ type: 'PullRequestMerged' });
    await waitGone(b.imageId, 'image registered with a merged pull request');

    // A third links its active snapshot to it afterwards, spelling the repository in capitals.
    const third = uniqueIds('pr-record-link');
    const c = await image(third);
    await register(third, c);
    const link = await durableOnly.client
      .linkPullRequest(third.projectId, third.workItemId, { repository: REPO.toUpperCase(), number: pr })
      .catch((err: unknown) => err);
    expect(link).toMatchObject({ status: 409, code: 'PullRequestMerged' });
    await waitGone(c.imageId, 'image linked to a merged pull request');
    expect(await endReason(third)).toBe('merged');
  });
});

describe('the merge webhook is durable once answered', () => {
  it('links made just before the merge, more than one visibility page of them, all end; a redelivery changes nothing', async () => {
    const pr = nextPr++;
    const items = Array.from({ length: 5 }, () => uniqueIds('pr-durable'));
    const images = await Promise.all(items.map((ids) => image(ids)));
    // Registered and linked, and the merge sent at once: no waiting for visibility.
    await Promise.all(items.map((ids, i) => register(ids, images[i]!, pr)));
    const deliveryId = randomUUID();
    const res = await postWebhook(durableOnly.baseUrl, mergeDelivery(pr, { deliveryId }));
    expect(res.status).toBe(202);
    const workflowId = mergedPullRequestWorkflowId({ repository: REPO, number: pr });
    expect(res.body).toMatchObject({ outcome: 'merged', workflowId });
    expect(res.body).not.toHaveProperty('workItems');

    for (const [i, img] of images.entries()) await waitGone(img.imageId, `linked snapshot ${i}`);
    for (const ids of items) expect(await endReason(ids)).toBe('merged');
    const handle = worker.client.workflow.getHandle(workflowId);
    const result = (await handle.result()) as PullRequestClosedResult;
    expect(result.looks).toHaveLength(2);
    const runId = (await handle.describe()).runId;

    // Follow-up work on one of the work items, not linked to the merged pull request.
    const next = await image(items[0]!);
    expect((await register(items[0]!, next)).outcome).toBe('created');
    const again = await postWebhook(durableOnly.baseUrl, mergeDelivery(pr, { deliveryId }));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ workflowId });
    expect((await handle.describe()).runId).toBe(runId);
    expect((await service.lookup(items[0]!.projectId, items[0]!.workItemId))?.imageId).toBe(next.imageId);
    expect(await imageExists(docker, next.imageId)).toBe(true);
    await service.invalidate(items[0]!.projectId, items[0]!.workItemId, 'test over');
    await waitGone(next.imageId, 'follow-up image');
  });
});
