// GitHub webhooks over real HTTP: real payloads from @octokit/webhooks-examples, signed like
// GitHub signs them, ending real snapshot workflows that remove real images.
import { randomUUID } from 'node:crypto';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import { closedPullRequestWorkflowId, snapshotWorkflowId } from '../../src/contract/names.js';
import type { SnapshotWorkflowResult } from '../../src/workflows/snapshot/workflow.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage, runContainerFrom } from '../support/snapshot-images.js';
import { newDocker, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { Delivery } from '../unit/api-github-payloads.js';
import { delivery, otherEvent, pullRequestEvent, signature } from '../unit/api-github-payloads.js';
import type { ApiUnderTest } from './api-helpers.js';
import { DEADLINE, TEST_SECRET, postWebhook, startApi } from './api-helpers.js';

const RUN = randomUUID().slice(0, 8);
const HOST = `api-hooks-${RUN}`;
const REPO = `it-org/hooks-${RUN}`;
const BRANCH_PROJECT = `branchy-${RUN}`;
const POLICY = `
projects:
  ${BRANCH_PROJECT}:
    branchRules:
      - repository: ${REPO}
        pattern: "^wi/(?<workItemId>[A-Za-z0-9._-]+)$"
`;

let worker: InProcessWorker;
let docker: Dockerode;
let api: ApiUnderTest;
let nextPr = 1;

beforeAll(async () => {
  docker = newDocker();
  worker = await startInProcessWorker({ hostId: HOST });
  api = await startApi(worker, { policyYaml: POLICY });
});

afterAll(async () => {
  await api?.close();
  await worker?.stop();
});

function mergedDelivery(
  number: number,
  headRef: string,
  options: { deliveryId?: string; merged?: boolean } = {},
) {
  const payload = pullRequestEvent({ repository: REPO, number, headRef, merged: options.merged ?? true });
  return delivery(
    'pull_request',
    payload,
    TEST_SECRET,
    options.deliveryId ? { deliveryId: options.deliveryId } : {},
  );
}

async function registered(
  prefix: string,
  options: { pr?: number; ids?: { projectId: string; workItemId: string } } = {},
) {
  const ids = options.ids ?? uniqueIds(prefix);
  const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
  const result = await api.client.register({
    ...ids,
    image: img.image,
    host: HOST,
    ...(options.pr ? { pullRequest: { repository: REPO, number: options.pr } } : {}),
  });
  expect(result.outcome).toBe('created');
  return { ids, img };
}

/** The webhook finds linked snapshots through visibility, which trails the workflow a little. */
async function linkVisible(ids: { projectId: string; workItemId: string }, pr: number) {
  await waitFor(
    async () => {
      const page = await api.client.list({ projectId: ids.projectId });
      return page.items.some((i) => i.workItemId === ids.workItemId && i.pullRequest?.number === pr);
    },
    { ...DEADLINE, message: `the link of ${ids.workItemId} to #${pr} did not reach visibility` },
  );
}

async function waitGone(imageId: string, what: string) {
  await waitFor(async () => !(await imageExists(docker, imageId)), {
    ...DEADLINE,
    message: `${what}: image ${imageId} still on the engine`,
  });
}

async function endReason(ids: { projectId: string; workItemId: string }) {
  const handle = worker.client.workflow.getHandle(snapshotWorkflowId(ids.projectId, ids.workItemId));
  const result = (await handle.result()) as SnapshotWorkflowResult;
  return result.last?.endReason;
}

describe('merge webhooks end snapshots', () => {
  it('a merged pull request removes the snapshot linked at registration', async () => {
    const pr = nextPr++;
    const { ids, img } = await registered('hook-linked', { pr });
    await linkVisible(ids, pr);
    const res = await postWebhook(api.baseUrl, mergedDelivery(pr, 'some-unrelated-branch'));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ event: 'pull_request', outcome: 'merged' });
    expect(res.body.workItems).toEqual([{ ...ids, match: 'link', signalled: true }]);
    expect(await api.client.lookup(ids.projectId, ids.workItemId)).toBeNull();
    await waitGone(img.imageId, 'linked');
    expect(await endReason(ids)).toBe('merged');
  });

  it('a branch rule alone finds the work item from pull_request.head.ref', async () => {
    const workItemId = `item-${randomUUID().slice(0, 8)}`;
    const { ids, img } = await registered('hook-branch', { ids: { projectId: BRANCH_PROJECT, workItemId } });
    const res = await postWebhook(api.baseUrl, mergedDelivery(nextPr++, `wi/${workItemId}`));
    expect(res.status).toBe(202);
    expect(res.body.workItems).toEqual([{ ...ids, match: 'branch', signalled: true }]);
    await waitGone(img.imageId, 'branch rule');
    expect(await endReason(ids)).toBe('merged');
  });

  it('a link made with PUT …/pull-request after registration is honoured', async () => {
    const pr = nextPr++;
    const { ids, img } = await registered('hook-put');
    await api.client.linkPullRequest(ids.projectId, ids.workItemId, { repository: REPO, number: pr });
    await linkVisible(ids, pr);
    expect((await postWebhook(api.baseUrl, mergedDelivery(pr, 'x'))).status).toBe(202);
    await waitGone(img.imageId, 'linked later');
  });

  it('forged, missing and stale signatures get 401 and end nothing; the genuine one then does', async () => {
    const pr = nextPr++;
    const { ids, img } = await registered('hook-sig', { pr });
    await linkVisible(ids, pr);
    const genuine = mergedDelivery(pr, 'x');
    const forged: Delivery[] = [
      {
        body: genuine.body,
        headers: { ...genuine.headers, 'x-hub-signature-256': `sha256=${'f'.repeat(64)}` },
      },
      {
        body: genuine.body,
        headers: Object.fromEntries(
          Object.entries(genuine.headers).filter(([k]) => k !== 'x-hub-signature-256'),
        ),
      },
      // Stale: the signature of an earlier, different delivery.
      {
        body: genuine.body,
        headers: {
          ...genuine.headers,
          'x-hub-signature-256': signature(mergedDelivery(pr + 1000, 'y').body, TEST_SECRET),
        },
      },
      // Signed with a secret that is not ours.
      {
        body: genuine.body,
        headers: { ...genuine.headers, 'x-hub-signature-256': signature(genuine.body, 'not-the-secret') },
      },
      // A body altered after signing.
      { body: genuine.body.replace(`"number":${pr}`, `"number":${pr} `), headers: genuine.headers },
    ];
    for (const d of forged) {
      const res = await postWebhook(api.baseUrl, d);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'InvalidSignature' });
    }
    expect((await api.client.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(img.imageId);
    expect(await imageExists(docker, img.imageId)).toBe(true);
    expect((await postWebhook(api.baseUrl, genuine)).status).toBe(202);
    await waitGone(img.imageId, 'after the genuine delivery');
  });

  it('a close without merge has no effect by default; with onCloseWithoutMerge=invalidate it ends the snapshot', async () => {
    const pr = nextPr++;
    const { ids, img } = await registered('hook-close', { pr });
    await linkVisible(ids, pr);
    const res = await postWebhook(api.baseUrl, mergedDelivery(pr, 'x', { merged: false }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'ignored', reason: 'closed without merge' });
    expect((await api.client.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(img.imageId);

    const strict = await startApi(worker, { policyYaml: POLICY, onCloseWithoutMerge: 'invalidate' });
    try {
      const res2 = await postWebhook(strict.baseUrl, mergedDelivery(pr, 'x', { merged: false }));
      expect(res2.status).toBe(202);
      expect(res2.body).toMatchObject({ outcome: 'invalidated', workItems: [{ ...ids, signalled: true }] });
      await waitGone(img.imageId, 'closed without merge, invalidate');
      expect(await endReason(ids)).toBe('invalidated');
    } finally {
      await strict.close();
    }
  });

  it('other events get 2xx and are ignored', async () => {
    for (const event of ['ping', 'push', 'issues'] as const) {
      const res = await postWebhook(api.baseUrl, delivery(event, otherEvent(event), TEST_SECRET));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ event, outcome: 'ignored' });
    }
  });

  it('with no secret configured every delivery is refused with 503', async () => {
    const unset = await startApi(worker, { secret: null });
    try {
      const res = await postWebhook(unset.baseUrl, mergedDelivery(nextPr++, 'x'));
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: 'WebhookSecretMissing' });
    } finally {
      await unset.close();
    }
  });
});

describe('replays', () => {
  it('the same delivery sent again, also concurrently, is harmless', async () => {
    const pr = nextPr++;
    const { ids, img } = await registered('hook-replay', { pr });
    await linkVisible(ids, pr);
    const d = mergedDelivery(pr, 'x', { deliveryId: randomUUID() });
    const answers = await Promise.all([postWebhook(api.baseUrl, d), postWebhook(api.baseUrl, d)]);
    expect(answers.map((a) => a.status)).toEqual([202, 202]);
    await waitGone(img.imageId, 'replayed merge');
    expect(await endReason(ids)).toBe('merged');
    const late = await postWebhook(api.baseUrl, d);
    expect(late.status).toBe(202);
    expect(late.body).toMatchObject({ outcome: 'merged' });
  });

  it('a redelivery does not end an image registered after the first delivery', async () => {
    const pr = nextPr++;
    const { ids, img } = await registered('hook-redeliver', { pr });
    await linkVisible(ids, pr);
    // A container still uses the merged image: its removal is blocked, so the workflow stays open.
    const holder = await runContainerFrom(docker, img.image);
    try {
      const d = mergedDelivery(pr, 'x', { deliveryId: randomUUID() });
      expect((await postWebhook(api.baseUrl, d)).status).toBe(202);
      await waitFor(async () => (await api.client.lookup(ids.projectId, ids.workItemId)) === null, {
        ...DEADLINE,
        message: 'the merge did not end the snapshot',
      });
      const next = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
      const reg = await api.client.register({ ...ids, image: next.image, host: HOST });
      expect(reg.outcome).toBe('created');
      // GitHub redelivers the same delivery.
      const again = await postWebhook(api.baseUrl, d);
      expect(again.status).toBe(202);
      expect((await api.client.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(next.imageId);
      expect(await imageExists(docker, next.imageId)).toBe(true);
      await holder.stop();
      await waitGone(img.imageId, 'merged image once its container left');
      expect((await api.client.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(next.imageId);
      expect(await api.client.invalidate(ids.projectId, ids.workItemId, 'test over')).toBe(true);
      await waitGone(next.imageId, 'second image');
    } finally {
      await holder.stop();
    }
  });
});

describe('replays under fresh delivery ids (X-GitHub-Delivery is not signed)', () => {
  it('the same signed close body under three delivery ids starts one workflow, named by the signed content', async () => {
    const pr = nextPr++;
    const { ids, img } = await registered('hook-close-replay', { pr });
    await linkVisible(ids, pr);
    const strict = await startApi(worker, { policyYaml: POLICY, onCloseWithoutMerge: 'invalidate' });
    try {
      const first = mergedDelivery(pr, 'x', { merged: false, deliveryId: `captured-${RUN}` });
      const answers = [];
      for (const deliveryId of [`captured-${RUN}`, `forged-a-${RUN}`, `forged-b-${RUN}`]) {
        // The captured body, byte for byte, with its valid signature; only the header changes.
        const replay = { body: first.body, headers: { ...first.headers, 'x-github-delivery': deliveryId } };
        const res = await postWebhook(strict.baseUrl, replay);
        expect(res.status).toBe(202);
        answers.push(res.body.workflowId as string);
      }
      expect(new Set(answers).size).toBe(1);
      const [workflowId] = answers as [string];
      expect(workflowId).not.toContain('captured');
      // No workflow is named by a delivery id: the replays started nothing of their own.
      for (const deliveryId of [`captured-${RUN}`, `forged-a-${RUN}`, `forged-b-${RUN}`]) {
        const byDelivery = closedPullRequestWorkflowId({ repository: REPO, number: pr }, deliveryId);
        await expect(worker.client.workflow.getHandle(byDelivery).describe()).rejects.toBeInstanceOf(
          WorkflowNotFoundError,
        );
      }
      expect((await worker.client.workflow.getHandle(workflowId).describe()).type).toBe(
        'pullRequestClosedWorkflow',
      );
      await waitGone(img.imageId, 'closed without merge, invalidate');
      expect(await endReason(ids)).toBe('invalidated');
    } finally {
      await strict.close();
    }
  });
});

describe('replays across runs', () => {
  it('a redelivery reaching a newer workflow run does not end the image registered after the merge', async () => {
    const workItemId = `again-${randomUUID().slice(0, 8)}`;
    const ids = { projectId: BRANCH_PROJECT, workItemId };
    const first = await registered('hook-rerun', { ids });
    const d = mergedDelivery(nextPr++, `wi/${workItemId}`, { deliveryId: randomUUID() });
    expect((await postWebhook(api.baseUrl, d)).status).toBe(202);
    await waitGone(first.img.imageId, 'first image');
    expect(await endReason(ids)).toBe('merged');

    // Follow-up work on the same work item starts a new workflow run, which never saw the delivery.
    const next = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    expect((await api.client.register({ ...ids, image: next.image, host: HOST })).outcome).toBe('created');
    const again = await postWebhook(api.baseUrl, d);
    expect(again.status).toBe(202);
    expect(again.body.workItems).toEqual([{ ...ids, match: 'branch', signalled: true }]);
    expect((await api.client.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(next.imageId);
    expect(await imageExists(docker, next.imageId)).toBe(true);
    expect(await api.client.invalidate(ids.projectId, ids.workItemId, 'test over')).toBe(true);
    await waitGone(next.imageId, 'second image');
  });
});

describe('load', () => {
  it('100 concurrent deliveries: all answered 2xx, every merged snapshot ends as merged and leaves the engine', async () => {
    const prs = Array.from({ length: 5 }, () => nextPr++);
    const snapshots = await Promise.all(prs.map((pr) => registered('hook-load', { pr })));
    await Promise.all(snapshots.map((s, i) => linkVisible(s.ids, prs[i] as number)));

    const deliveries: Delivery[] = [];
    for (const pr of prs) {
      for (let k = 0; k < 4; k++) {
        const d = mergedDelivery(pr, `load-${pr}`, { deliveryId: randomUUID() });
        deliveries.push(d, d); // every delivery twice: replays mixed into the load
      }
    }
    for (let k = 0; k < 20; k++) deliveries.push(mergedDelivery(nextPr++, `nothing-${k}`));
    for (let k = 0; k < 20; k++) deliveries.push(delivery('ping', otherEvent('ping'), TEST_SECRET));
    for (let k = 0; k < 10; k++) deliveries.push(delivery('push', otherEvent('push'), TEST_SECRET));
    for (let k = 0; k < 10; k++) {
      const opened = pullRequestEvent({
        repository: REPO,
        number: prs[k % 5] as number,
        headRef: 'x',
        merged: false,
        action: 'opened',
      });
      deliveries.push(delivery('pull_request', opened, TEST_SECRET));
    }
    expect(deliveries).toHaveLength(100);
    deliveries.sort(() => Math.random() - 0.5);

    const answers = await Promise.all(deliveries.map((d) => postWebhook(api.baseUrl, d)));
    const statuses = answers.map((a) => a.status);
    // 60 merges (20 of them replays, 20 of pull requests nothing links to) handed off: 202; the
    // 40 other deliveries are ignored: 200.
    expect(statuses.filter((s) => s === 202)).toHaveLength(60);
    expect(statuses.filter((s) => s === 200)).toHaveLength(40);

    for (const s of snapshots) await waitGone(s.img.imageId, `load ${s.ids.workItemId}`);
    for (const s of snapshots) expect(await endReason(s.ids)).toBe('merged');
    const metrics = (await api.app.inject('/metrics')).body;
    expect(metrics).toMatch(/snapkeeper_webhook_deliveries_total\{event="ping",outcome="ignored"\} (\d+)/);
  });
});
