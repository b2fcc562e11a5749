// Issue 17's first defect, black-box: a registration refused because its pull request had already
// merged must change nothing. The work item's current image, linked to its own open pull request,
// stays on the engine and is still what the lookup answers. Real dev server, real private engine,
// real `docker commit` images, the REST API and a signed merge webhook.
import { randomUUID } from 'node:crypto';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapkeeperApiError } from '@snapkeeper/client';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import { mergedPullRequestWorkflowId } from '../../src/contract/names.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { TEST_WORKFLOW_OPTIONS, startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { newDocker, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { delivery, pullRequestEvent } from '../unit/api-github-payloads.js';
import type { ApiUnderTest } from './api-helpers.js';
import { DEADLINE, TEST_SECRET, postWebhook, startApi } from './api-helpers.js';

const RUN = randomUUID().slice(0, 8);
const HOST = `refused-${RUN}`;
const REPO = `it-org/refused-${RUN}`;

let worker: InProcessWorker;
let docker: Dockerode;
let api: ApiUnderTest;

beforeAll(async () => {
  docker = newDocker();
  worker = await startInProcessWorker({ hostId: HOST });
  const service = createSnapshotService({
    client: worker.client,
    defaultTtlSeconds: 3600,
    workflowOptions: TEST_WORKFLOW_OPTIONS,
    pullRequestWorkflowOptions: { lookDelaysSeconds: [1] },
  });
  api = await startApi(worker, { service, webhookFastPass: false });
});

afterAll(async () => {
  await api?.close();
  await worker?.stop();
});

async function waitGone(imageId: string, what: string) {
  await waitFor(async () => !(await imageExists(docker, imageId)), {
    ...DEADLINE,
    message: `${what}: image ${imageId} still on the engine`,
  });
}

async function merge(pr: number): Promise<void> {
  const payload = pullRequestEvent({ repository: REPO, number: pr, headRef: `branch-${pr}` });
  expect((await postWebhook(api.baseUrl, delivery('pull_request', payload, TEST_SECRET))).status).toBe(202);
  // The merge record: the pull request's workflow, complete once its looks are done.
  await worker.client.workflow
    .getHandle(mergedPullRequestWorkflowId({ repository: REPO, number: pr }))
    .result();
}

describe('a registration refused because its pull request merged changes nothing', () => {
  it('409 PullRequestMerged, and the current image, linked to an open pull request, stays on the engine and in the lookup', async () => {
    const ids = uniqueIds('refused-keeps');
    const a = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    await api.client.register({
      ...ids,
      image: a.image,
      host: HOST,
      pullRequest: { repository: REPO, number: 2 },
    });
    await merge(1);

    const b = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const refused = await api.client
      .register({ ...ids, image: b.image, host: HOST, pullRequest: { repository: REPO, number: 1 } })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(SnapkeeperApiError);
    expect(refused).toMatchObject({ status: 409, code: 'PullRequestMerged' });

    // The image registered for the merged pull request goes (as before); the current one stays.
    await waitGone(b.imageId, 'image registered for a merged pull request');
    expect(await imageExists(docker, a.imageId)).toBe(true);
    expect(await api.client.lookup(ids.projectId, ids.workItemId)).toMatchObject({
      imageId: a.imageId,
      state: 'active',
      pullRequest: { repository: REPO, number: 2 },
    });

    // Its own pull request's merge still ends it.
    await merge(2);
    await waitGone(a.imageId, 'current image after its own merge');
  });
});
