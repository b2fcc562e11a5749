// Image references on the real engine and the dev server, through the real API: every form a
// registration may name its image in, references snapkeeper does not own (kept), a rollback to a
// parent snapshot, chains too deep to commit from, and the workflow's own guards.
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOW_TASK_QUEUE, heldTag, keptTag, snapshotWorkflowId } from '../../src/contract/names.js';
import type { SnapshotState } from '../../src/contract/snapshot-types.js';
import { registerUpdate, stateQuery, touchUpdate } from '../../src/contract/messages.js';
import type { snapshotWorkflow } from '../../src/workflows/snapshot/workflow.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { TEST_WORKFLOW_OPTIONS, startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { ApiUnderTest } from './api-helpers.js';
import { DEADLINE, http, startApi } from './api-helpers.js';

const HOST = `refs-${randomUUID().slice(0, 8)}`;
const DEAD_HOST = `refs-dead-${randomUUID().slice(0, 8)}`;
const MAX_LAYER_DEPTH = 4;

let worker: InProcessWorker;
let deadEngine: InProcessWorker;
let docker: Dockerode;
let api: ApiUnderTest;

beforeAll(async () => {
  docker = newDocker();
  worker = await startInProcessWorker({
    hostId: HOST,
    env: { SNAPKEEPER_MAX_LAYER_DEPTH: String(MAX_LAYER_DEPTH) },
  });
  // A Docker worker whose engine is down: its socket does not exist.
  deadEngine = await startInProcessWorker({
    hostId: DEAD_HOST,
    env: {
      SNAPKEEPER_WORKER_ROLES: 'docker',
      DOCKER_HOST: `unix://${testEnv().workDir}/no-engine-${randomUUID().slice(0, 6)}.sock`,
    },
  });
  api = await startApi(worker);
});

afterAll(async () => {
  await api?.close();
  await deadEngine?.stop();
  await worker?.stop();
});

async function waitGone(imageId: string, what: string) {
  await waitFor(async () => !(await imageExists(docker, imageId)), {
    ...DEADLINE,
    message: `${what}: image ${imageId} still on the engine`,
  });
}

function post(body: unknown) {
  return http(api.baseUrl, 'POST', '/v1/snapshots', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function tagsOf(imageId: string): Promise<string[]> {
  return ((await docker.getImage(imageId).inspect()).RepoTags ?? []).sort();
}

describe('registration names its image in any form', () => {
  it.each([
    ['a short id (what docker commit prints)', (id: string) => id.slice(7, 19)],
    ['a full id', (id: string) => id],
    ['a full id without sha256:', (id: string) => id.slice(7)],
  ])('by %s: the full id and the commit tag are recorded, and the image leaves the disk', async (_, form) => {
    const ids = uniqueIds('refs-form');
    const img = await makeSnapshotImage(docker, { ...ids });
    const registered = await api.client.register({ ...ids, image: form(img.imageId), host: HOST });
    expect(registered.outcome).toBe('created');
    expect(registered.snapshot).toMatchObject({
      imageId: img.imageId,
      image: form(img.imageId),
      references: [img.image],
      layerDepth: 2,
    });
    expect(await tagsOf(img.imageId)).toEqual([img.image]);
    const hit = await api.client.lookup(ids.projectId, ids.workItemId);
    expect(hit?.imageId).toBe(img.imageId);

    expect(await api.client.invalidate(ids.projectId, ids.workItemId, 'done')).toBe(true);
    await waitGone(img.imageId, 'registered by id');
    const result = await worker.service.handle(ids.projectId, ids.workItemId).result();
    expect(result.last).toMatchObject({ imageId: img.imageId, state: 'removed' });
  });

  it('a cancel of a snapshot registered by short id removes the image and the workflow ends cancelled', async () => {
    const ids = uniqueIds('refs-cancel');
    const img = await makeSnapshotImage(docker, { ...ids });
    await api.client.register({ ...ids, image: img.imageId.slice(7, 19), host: HOST });
    const handle = worker.service.handle(ids.projectId, ids.workItemId);
    await handle.cancel();
    await waitGone(img.imageId, 'cancelled');
    await waitFor(async () => (await handle.describe()).status.name === 'CANCELLED', {
      ...DEADLINE,
      message: 'the cancel did not complete',
    });
  });

  it('an unknown short id, an unknown digest and an ambiguous reference answer 422 with a message', async () => {
    const ids = uniqueIds('refs-bad');
    const unknownShort = await post({ ...ids, image: '0123456789ab', host: HOST });
    expect(unknownShort.status).toBe(422);
    expect(unknownShort.body).toMatchObject({
      error: 'ImageNotFound',
      message: expect.stringContaining('0123456789ab'),
    });
    const unknownDigest = await post({
      ...ids,
      image: `snapkeeper-test/x@sha256:${'9'.repeat(64)}`,
      host: HOST,
    });
    expect(unknownDigest.status).toBe(422);
    expect(unknownDigest.body).toMatchObject({ error: 'ImageNotFound' });

    // A repository named like another image's short id: the engine would pick one silently.
    const a = await makeSnapshotImage(docker, { ...ids });
    const b = await makeSnapshotImage(docker, { ...ids });
    const short = a.imageId.slice(7, 19);
    await docker.getImage(b.imageId).tag({ repo: short, tag: 'latest' });
    const ambiguous = await post({ ...ids, image: short, host: HOST });
    expect(ambiguous.status).toBe(422);
    expect(ambiguous.body).toMatchObject({
      error: 'AmbiguousReference',
      message: expect.stringContaining('ambiguous'),
    });
    expect(await imageExists(docker, a.imageId)).toBe(true);
    expect(await imageExists(docker, b.imageId)).toBe(true);
    await docker.getImage(`${short}:latest`).remove();
    for (const img of [a, b]) await docker.getImage(img.imageId).remove({ force: true });
  });

  it('an engine that is down answers 503 (retry later), not 500 or 4xx', async () => {
    const ids = uniqueIds('refs-down');
    const res = await post({ ...ids, image: 'snapkeeper-test/whatever:1', host: DEAD_HOST });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      error: 'EngineUnavailable',
      message: expect.stringContaining('retry later'),
    });
  });
});

describe('references snapkeeper does not own', () => {
  it('a tag someone added keeps the image: state kept with that tag, and the tag survives', async () => {
    const ids = uniqueIds('refs-kept');
    const img = await makeSnapshotImage(docker, { ...ids });
    await api.client.register({ ...ids, image: img.image, host: HOST });
    const promoted = `snapkeeper-test/promoted-${randomUUID().slice(0, 8)}`;
    await docker.getImage(img.imageId).tag({ repo: promoted, tag: 'v1' });

    await api.client.invalidate(ids.projectId, ids.workItemId, 'merged elsewhere');
    const handle = worker.service.handle(ids.projectId, ids.workItemId);
    const result = await handle.result();
    expect(result.last).toMatchObject({
      imageId: img.imageId,
      state: 'kept',
      keptBy: [`${promoted}:v1`],
      message: expect.stringContaining(`${promoted}:v1`),
    });
    // The image and the promotion stay; snapkeeper's own references are gone, its kept marker left.
    expect(await tagsOf(img.imageId)).toEqual([`${promoted}:v1`, keptTag(img.imageId)].sort());

    const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(metadata.currentDetails).toContain('**kept**');
    expect(metadata.currentDetails).toContain(`${promoted}:v1`);
    await waitFor(
      async () => {
        const { executions } = await worker.client.workflowService.listWorkflowExecutions({
          namespace: 'default',
          query: `WorkflowId = '${handle.workflowId}' AND SnapshotState = 'kept'`,
        });
        return executions.length === 1;
      },
      { ...DEADLINE, message: 'SnapshotState never showed kept' },
    );
    await waitFor(
      async () =>
        (await api.client.list({ projectId: ids.projectId, state: 'kept' })).items.some(
          (i) => i.workItemId === ids.workItemId && i.state === 'kept',
        ),
      { ...DEADLINE, message: 'GET /v1/snapshots?state=kept never listed it' },
    );
    await docker.getImage(img.imageId).remove({ force: true });
  });
});

describe('parents and chains', () => {
  it('a rollback to the parent keeps it while it is current, and it goes when its own snapshot ends', async () => {
    const ids = uniqueIds('refs-rollback');
    const parent = await makeSnapshotImage(docker, { ...ids });
    await api.client.register({ ...ids, image: parent.image, host: HOST });
    const child = await makeSnapshotImage(docker, { ...ids, fromImage: parent.image });
    expect((await api.client.register({ ...ids, image: child.image, host: HOST })).outcome).toBe('replaced');
    const view = () => worker.service.view(ids.projectId, ids.workItemId);
    await waitFor(async () => (await view())?.retiring.length === 0, {
      ...DEADLINE,
      message: 'parent never settled',
    });
    // Retired: untagged, its layers held by the child.
    expect(await tagsOf(parent.imageId)).toEqual([]);

    // Roll back: the parent, by the short id the engine shows, is current again.
    const back = await api.client.register({ ...ids, image: parent.imageId.slice(7, 19), host: HOST });
    expect(back).toMatchObject({
      outcome: 'replaced',
      snapshot: { imageId: parent.imageId, references: [] },
    });
    await waitGone(child.imageId, 'the replaced child');
    await waitFor(async () => (await view())?.retiring.length === 0, {
      ...DEADLINE,
      message: 'child never settled',
    });
    // Current again: snapkeeper's held tag names it, so the walk from the child left it.
    expect(await tagsOf(parent.imageId)).toEqual([heldTag(parent.imageId)]);
    expect((await api.client.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(parent.imageId);

    await api.client.invalidate(ids.projectId, ids.workItemId, 'done');
    await waitGone(parent.imageId, 'the parent, when its own snapshot ended');
  });

  it('a snapshot as deep as SNAPKEEPER_MAX_LAYER_DEPTH is no longer offered, and says why', async () => {
    const ids = uniqueIds('refs-deep');
    let from = testEnv().baseImage;
    let last: SnapshotState | undefined;
    const images: string[] = [];
    // The base has 1 layer; each job committed from the previous snapshot adds one.
    for (let depth = 2; depth <= MAX_LAYER_DEPTH; depth++) {
      const img = await makeSnapshotImage(docker, { ...ids, fromImage: from });
      images.push(img.imageId);
      last = (await api.client.register({ ...ids, image: img.image, host: HOST })).snapshot;
      expect(last.layerDepth).toBe(depth);
      const offered = await api.client.lookup(ids.projectId, ids.workItemId);
      if (depth < MAX_LAYER_DEPTH) expect(offered?.imageId).toBe(img.imageId);
      from = img.image;
    }
    expect(last?.reuseBlockedBy).toMatch(/not offered for reuse/);
    const res = await http(
      api.baseUrl,
      'GET',
      `/v1/snapshots/${encodeURIComponent(ids.projectId)}/${encodeURIComponent(ids.workItemId)}`,
    );
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({
      error: 'ChainTooDeep',
      message: expect.stringContaining(`${MAX_LAYER_DEPTH} layers`),
    });
    expect(await api.client.lookup(ids.projectId, ids.workItemId)).toBeNull();
    expect(await api.client.lookupWithReason(ids.projectId, ids.workItemId)).toMatchObject({
      snapshot: null,
      miss: { code: 'ChainTooDeep' },
    });
    const view = await worker.service.view(ids.projectId, ids.workItemId);
    expect(view?.current).toMatchObject({ state: 'active', layerDepth: MAX_LAYER_DEPTH });
    expect(view?.current?.reuseBlockedBy).toContain('SNAPKEEPER_MAX_LAYER_DEPTH');

    // The next job starts from its base: a fresh chain, offered again; the deep one leaves.
    const fresh = await makeSnapshotImage(docker, { ...ids });
    await api.client.register({ ...ids, image: fresh.image, host: HOST });
    expect((await api.client.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(fresh.imageId);
    await api.client.invalidate(ids.projectId, ids.workItemId, 'done');
    for (const id of [...images, fresh.imageId]) await waitGone(id, 'chain');
  });
});

describe('workflow guards', () => {
  it('refuses to run under a workflow id that does not match its project and work item', async () => {
    const ids = uniqueIds('refs-identity');
    const handle = await worker.client.workflow.start<typeof snapshotWorkflow>('snapshotWorkflow', {
      workflowId: `${snapshotWorkflowId(ids.projectId, ids.workItemId)}-impostor`,
      taskQueue: WORKFLOW_TASK_QUEUE,
      args: [{ ...ids }],
    });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ nonRetryable: true, type: 'InvalidRequest' });
    expect(cause?.message).toContain('does not match');
  });

  it('carries refusals across continue-as-new, and still fails with them at the end', async () => {
    const ids = uniqueIds('refs-refusals');
    const img = await makeSnapshotImage(docker, { ...ids });
    const refusal = 'sha256:0000: refused earlier';
    const workflowId = snapshotWorkflowId(ids.projectId, ids.workItemId);
    const start = new WithStartWorkflowOperation<typeof snapshotWorkflow>('snapshotWorkflow', {
      workflowId,
      taskQueue: WORKFLOW_TASK_QUEUE,
      workflowIdConflictPolicy: 'USE_EXISTING',
      args: [
        {
          ...ids,
          options: { ...TEST_WORKFLOW_OPTIONS, continueAsNewAfterEvents: 40 },
          carry: { current: null, retiring: [], last: null, deliveries: [], refusals: [refusal] },
        },
      ],
    });
    await worker.client.workflow.executeUpdateWithStart(registerUpdate, {
      args: [{ image: img.image, host: HOST }],
      startWorkflowOperation: start,
    });
    const handle = worker.client.workflow.getHandle(workflowId);
    const firstRun = (await handle.describe()).runId;
    // Touches that record a use each (lookups record at most once a minute) grow the history.
    for (let i = 0; i < 25; i++) await handle.executeUpdate(touchUpdate, { args: [{}] });
    await waitFor(async () => (await handle.describe()).runId !== firstRun, {
      ...DEADLINE,
      message: 'never continued as new',
    });
    expect((await handle.query(stateQuery)).current?.imageId).toBe(img.imageId);
    await worker.service.invalidate(ids.projectId, ids.workItemId, 'done');
    await waitGone(img.imageId, 'after continue-as-new');
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.message).toContain(refusal);
  });
});
