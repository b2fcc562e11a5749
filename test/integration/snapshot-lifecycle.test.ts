import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SnapshotError } from '../../src/service/snapshot-error.js';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import type { SnapshotState } from '../../src/contract/snapshot-types.js';
import { invalidateSignal, mergedSignal, stateQuery } from '../../src/contract/messages.js';
import { TEST_WORKFLOW_OPTIONS } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage, runContainerFrom } from '../support/snapshot-images.js';
import { testEnv, uniqueIds } from '../support/test-env.js';
import { useFileWorker } from '../support/file-worker.js';
import { waitFor } from '../support/wait-for.js';

const files = useFileWorker('lifecycle');
const HOST = files.hostId;
const DEADLINE = { timeoutMs: 60_000 };

async function registered(prefix: string, extra: { ttlSeconds?: number; slidingTtl?: boolean } = {}) {
  const ids = uniqueIds(prefix);
  const img = await makeSnapshotImage(files.docker, { ...ids, labels: 'managed' });
  const result = await files.worker.service.register({ ...ids, image: img.image, host: HOST, ...extra });
  return { ids, img, result, handle: files.worker.service.handle(ids.projectId, ids.workItemId) };
}

async function waitGone(imageId: string, what: string) {
  await waitFor(async () => !(await imageExists(files.docker, imageId)), {
    ...DEADLINE,
    message: `${what}: image ${imageId} still on the engine`,
  });
}

async function waitClosed(workflowId: string, status: string) {
  const handle = files.worker.client.workflow.getHandle(workflowId);
  await waitFor(async () => (await handle.describe()).status.name === status, {
    ...DEADLINE,
    message: `${workflowId} did not reach ${status}`,
  });
}

describe('snapshot lifecycle', () => {
  it('registration returns the accepted state and the lookup finds it', async () => {
    const { ids, img, result } = await registered('reg');
    expect(result.outcome).toBe('created');
    expect(result.snapshot).toMatchObject({
      ...ids,
      image: img.image,
      imageId: img.imageId,
      host: HOST,
      state: 'active',
      ttlSeconds: 3600,
    });
    expect(result.snapshot.sizeBytes).toBeGreaterThan(0);
    const found = await files.worker.service.lookup(ids.projectId, ids.workItemId);
    expect(found?.imageId).toBe(img.imageId);

    // What operators see: the summary in the Web UI, the current details, the search attributes.
    const handle = files.worker.service.handle(ids.projectId, ids.workItemId);
    expect(await (await handle.describe()).staticSummary()).toContain(ids.workItemId);
    const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(metadata.currentDetails).toContain('**active**');
    expect(metadata.currentDetails).toContain(img.image);
    const visible = (state: string) => async () => {
      const { executions } = await files.worker.client.workflowService.listWorkflowExecutions({
        namespace: 'default',
        query: `SnapshotProjectId = '${ids.projectId}' AND SnapshotWorkItemId = '${ids.workItemId}' AND SnapshotState = '${state}' AND SnapshotHost = '${HOST}'`,
      });
      return executions.length === 1;
    };
    await waitFor(visible('active'), { ...DEADLINE, message: 'search attributes never showed active' });

    await files.worker.service.invalidate(ids.projectId, ids.workItemId, 'test cleanup');
    await waitGone(img.imageId, 'cleanup');
    await waitFor(visible('removed'), { ...DEADLINE, message: 'search attributes never showed removed' });
  });

  it('a merge removes the image and the workflow completes as removed', async () => {
    const { ids, img, handle } = await registered('merge');
    expect(
      await files.worker.service.merged(ids.projectId, ids.workItemId, { deliveryId: randomUUID() }),
    ).toBe(true);
    await waitGone(img.imageId, 'merge');
    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId: img.imageId, state: 'removed', endReason: 'merged' });
    expect(await files.worker.service.lookup(ids.projectId, ids.workItemId)).toBeNull();
  });

  it('a TTL of a few seconds removes the image', async () => {
    const { img, handle } = await registered('ttl', { ttlSeconds: 2 });
    await waitGone(img.imageId, 'ttl');
    expect((await handle.result()).last).toMatchObject({ state: 'removed', endReason: 'expired' });
  });

  it('an invalidation with a reason removes the image and keeps the reason', async () => {
    const { ids, img, handle } = await registered('inval');
    await files.worker.service.invalidate(ids.projectId, ids.workItemId, 'base image rebuilt');
    await waitGone(img.imageId, 'invalidate');
    expect((await handle.result()).last).toMatchObject({
      state: 'removed',
      endReason: 'invalidated',
      message: 'base image rebuilt',
    });
  });

  it('a cancel from a client removes the image and the workflow ends cancelled', async () => {
    const { img, handle } = await registered('cancel');
    await handle.cancel();
    await waitGone(img.imageId, 'cancel');
    await waitClosed(handle.workflowId, 'CANCELLED');
  });

  it('a replacement removes the old image only, and the new one becomes current with its own TTL', async () => {
    const { ids, img: first, handle } = await registered('replace');
    const second = await makeSnapshotImage(files.docker, { ...ids, labels: 'managed' });
    const result = await files.worker.service.register({
      ...ids,
      image: second.image,
      host: HOST,
      ttlSeconds: 1800,
    });
    expect(result.outcome).toBe('replaced');
    expect(result.snapshot).toMatchObject({ imageId: second.imageId, state: 'active', ttlSeconds: 1800 });
    await waitGone(first.imageId, 'replacement');
    expect(await imageExists(files.docker, second.imageId)).toBe(true);
    const view = await handle.query(stateQuery);
    expect(view.current?.imageId).toBe(second.imageId);
    await files.worker.service.invalidate(ids.projectId, ids.workItemId, 'test cleanup');
    await waitGone(second.imageId, 'cleanup');
  });

  it('a snapshot committed from a container of the previous one replaces it; both leave the disk', async () => {
    const { ids, img: first } = await registered('chain');
    const second = await makeSnapshotImage(files.docker, {
      ...ids,
      labels: 'managed',
      fromImage: first.image,
    });
    expect((await files.worker.service.register({ ...ids, image: second.image, host: HOST })).outcome).toBe(
      'replaced',
    );
    const view = async () => files.worker.service.view(ids.projectId, ids.workItemId);
    await waitFor(async () => (await view())?.retiring.length === 0, {
      ...DEADLINE,
      message: 'parent never settled',
    });
    // The parent's layers belong to the child now; only its reuse reference had to go.
    const parent = await files.docker
      .getImage(first.imageId)
      .inspect()
      .catch(() => null);
    expect(parent?.RepoTags ?? []).toEqual([]);
    await files.worker.service.invalidate(ids.projectId, ids.workItemId, 'done');
    await waitGone(second.imageId, 'child');
    await waitGone(first.imageId, 'parent pruned with its child');
  });

  it('terminate leaves the image in place for the reconciler', async () => {
    const { img, handle } = await registered('term');
    await handle.terminate('operator terminated');
    await waitClosed(handle.workflowId, 'TERMINATED');
    expect(await imageExists(files.docker, img.imageId)).toBe(true);
    await files.docker.getImage(img.imageId).remove({ force: true });
  });

  it('a running container blocks removal: removal-blocked until it is gone, then the image goes', async () => {
    const { ids, img, handle } = await registered('blocked');
    const container = await runContainerFrom(files.docker, img.image);
    await files.worker.service.invalidate(ids.projectId, ids.workItemId, 'blocked test');
    await waitFor(
      async () => {
        const v = await handle.query(stateQuery);
        return (
          v.retiring[0]?.state === 'removal-blocked' &&
          v.retiring[0].blockedBy?.includes(container.id.slice(0, 12))
        );
      },
      { ...DEADLINE, message: 'never showed removal-blocked' },
    );
    await waitFor(
      async () => {
        const { executions } = await files.worker.client.workflowService.listWorkflowExecutions({
          namespace: 'default',
          query: `WorkflowId = '${handle.workflowId}' AND SnapshotState = 'removal-blocked'`,
        });
        return executions.length === 1;
      },
      { ...DEADLINE, message: 'search attribute never showed removal-blocked' },
    );
    expect(await imageExists(files.docker, img.imageId)).toBe(true);
    // The reuse reference is gone at once, even though the image must wait.
    expect(await imageExists(files.docker, img.image)).toBe(false);
    await container.stop();
    await waitGone(img.imageId, 'after the container left');
    expect((await handle.result()).last).toMatchObject({ state: 'removed', blockedBy: null });
  });

  it('duplicate signals and repeated registrations do no harm', async () => {
    const { ids, img, handle } = await registered('dup');
    const again = await files.worker.service.register({ ...ids, image: img.image, host: HOST });
    expect(again.outcome).toBe('unchanged');
    expect(again.snapshot.createdAt).toBeDefined();
    const delivery = randomUUID();
    await handle.signal(mergedSignal, { deliveryId: delivery });
    await handle.signal(mergedSignal, { deliveryId: delivery });
    await files.worker.service.invalidate(ids.projectId, ids.workItemId, 'late');
    await waitGone(img.imageId, 'duplicates');
    expect((await handle.result()).last).toMatchObject({ state: 'removed', endReason: 'merged' });
  });

  it('a redelivered merge does not end an image registered after the first delivery', async () => {
    const { ids, img: first, handle } = await registered('redeliver');
    const delivery = { deliveryId: randomUUID(), mergedAt: new Date().toISOString() };
    await handle.signal(mergedSignal, delivery);
    const second = await makeSnapshotImage(files.docker, { ...ids, labels: 'managed' });
    await files.worker.service.register({ ...ids, image: second.image, host: HOST });
    // The first run may have completed already: the new run knows only the merge time.
    await handle.signal(mergedSignal, delivery);
    await waitGone(first.imageId, 'first');
    const view = await files.worker.service.view(ids.projectId, ids.workItemId);
    expect(view?.current?.imageId).toBe(second.imageId);
    await files.worker.service.invalidate(ids.projectId, ids.workItemId, 'cleanup');
    await waitGone(second.imageId, 'cleanup');
  });

  it('an invalidation that happened before the image was registered does not end it', async () => {
    const { ids, img, handle, result } = await registered('stale-inval');
    const before = new Date(Date.parse(result.snapshot.createdAt) - 5000).toISOString();
    await handle.signal(invalidateSignal, { reason: 'old close redelivered', occurredAt: before });
    const after = new Date(Date.now() + 1000).toISOString();
    await files.worker.service.invalidate(ids.projectId, ids.workItemId, 'closed now', after);
    await waitGone(img.imageId, 'current invalidation');
    expect((await handle.result()).last).toMatchObject({ endReason: 'invalidated', message: 'closed now' });
  });

  it('a sliding TTL is renewed by a lookup once the recording interval passed; a fixed one is not', async () => {
    const service = createSnapshotService({
      client: files.worker.client,
      defaultTtlSeconds: 3600,
      lookupRecordIntervalMs: 500,
    });
    const sliding = await registered('slide', { ttlSeconds: 600, slidingTtl: true });
    const fixed = await registered('fixed', { ttlSeconds: 600 });
    // Both past the interval: the fixed one was registered after the sliding one.
    await waitFor(async () => Date.now() > Date.parse(fixed.result.snapshot.createdAt) + 1000, {
      timeoutMs: 5000,
      message: 'clock',
    });
    const s = (await service.lookup(sliding.ids.projectId, sliding.ids.workItemId)) as SnapshotState;
    const f = (await service.lookup(fixed.ids.projectId, fixed.ids.workItemId)) as SnapshotState;
    expect(Date.parse(s.expiresAt)).toBeGreaterThan(Date.parse(sliding.result.snapshot.expiresAt));
    expect(f.expiresAt).toBe(fixed.result.snapshot.expiresAt);
    expect(Date.parse(f.lastUsedAt)).toBeGreaterThan(Date.parse(fixed.result.snapshot.lastUsedAt));
    for (const r of [sliding, fixed]) {
      await files.worker.service.invalidate(r.ids.projectId, r.ids.workItemId, 'cleanup');
      await waitGone(r.img.imageId, 'cleanup');
    }
  });
});

describe('continue-as-new', () => {
  it('keeps history bounded across touches and a blocked removal, dropping nothing', async () => {
    const service = createSnapshotService({
      client: files.worker.client,
      defaultTtlSeconds: 3600,
      // Every lookup records its use: the touches are what grows the history here.
      lookupRecordIntervalMs: 0,
      workflowOptions: { ...TEST_WORKFLOW_OPTIONS, continueAsNewAfterEvents: 40 },
    });
    const ids = uniqueIds('can');
    const img = await makeSnapshotImage(files.docker, { ...ids, labels: 'managed' });
    await service.register({ ...ids, image: img.image, host: HOST });
    const handle = service.handle(ids.projectId, ids.workItemId);
    const firstRun = (await handle.describe()).runId;
    for (let i = 0; i < 25; i++)
      expect((await service.lookup(ids.projectId, ids.workItemId))?.imageId).toBe(img.imageId);
    await waitFor(async () => (await handle.describe()).runId !== firstRun, {
      ...DEADLINE,
      message: 'never continued as new',
    });
    expect((await service.view(ids.projectId, ids.workItemId))?.current?.imageId).toBe(img.imageId);

    const container = await runContainerFrom(files.docker, img.image);
    await service.invalidate(ids.projectId, ids.workItemId, 'blocked across runs');
    const blockedRun = await waitFor(
      async () => {
        const v = await handle.query(stateQuery);
        return v.retiring[0]?.state === 'removal-blocked' ? (await handle.describe()).runId : undefined;
      },
      { ...DEADLINE, message: 'never blocked' },
    );
    // Retries of a blocked removal grow the history; the run hands the removal over to the next one.
    await waitFor(async () => (await handle.describe()).runId !== blockedRun, {
      ...DEADLINE,
      message: 'no new run while blocked',
    });
    expect((await handle.query(stateQuery)).retiring.map((r) => r.imageId)).toEqual([img.imageId]);
    await container.stop();
    await waitGone(img.imageId, 'removal carried across runs');
    expect((await handle.result()).last).toMatchObject({ imageId: img.imageId, state: 'removed' });
  });
});

describe('registration safety', () => {
  async function expectRefused(promise: Promise<unknown>, type: string) {
    const err = await promise.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapshotError);
    expect((err as SnapshotError).type).toBe(type);
    return err as SnapshotError;
  }

  async function expectNoRunningWorkflow(projectId: string, workItemId: string) {
    const handle = files.worker.client.workflow.getHandle(snapshotWorkflowId(projectId, workItemId));
    await waitFor(async () => (await handle.describe()).status.name !== 'RUNNING', {
      ...DEADLINE,
      message: 'a rejected registration left its workflow running',
    });
  }

  it('an image without the managed label is refused and never removed', async () => {
    const ids = uniqueIds('canary');
    const { canaryImage, canaryImageId } = testEnv();
    const err = await expectRefused(
      files.worker.service.register({ ...ids, image: canaryImage, host: HOST }),
      'UnmanagedImage',
    );
    expect(err.message).toContain('io.snapkeeper.managed=true');
    await expectNoRunningWorkflow(ids.projectId, ids.workItemId);
    expect(await imageExists(files.docker, canaryImageId)).toBe(true);
  });

  it('an image labelled for another work item is refused', async () => {
    const ids = uniqueIds('other');
    const img = await makeSnapshotImage(files.docker, {
      projectId: ids.projectId,
      workItemId: 'someone-else',
      labels: 'managed',
    });
    await expectRefused(
      files.worker.service.register({ ...ids, image: img.image, host: HOST }),
      'UnmanagedImage',
    );
    await expectNoRunningWorkflow(ids.projectId, ids.workItemId);
    expect(await imageExists(files.docker, img.imageId)).toBe(true);
    await files.docker.getImage(img.imageId).remove({ force: true });
  });

  it('a missing image is refused and a later valid registration still works', async () => {
    const ids = uniqueIds('missing');
    await expectRefused(
      files.worker.service.register({ ...ids, image: 'snapkeeper-test/nothing:here', host: HOST }),
      'ImageNotFound',
    );
    await expectNoRunningWorkflow(ids.projectId, ids.workItemId);
    const img = await makeSnapshotImage(files.docker, { ...ids, labels: 'managed' });
    expect((await files.worker.service.register({ ...ids, image: img.image, host: HOST })).outcome).toBe(
      'created',
    );
    await files.worker.service.invalidate(ids.projectId, ids.workItemId, 'cleanup');
    await waitGone(img.imageId, 'cleanup');
  });

  it('invalid fields are refused before any activity runs', async () => {
    const ids = uniqueIds('invalid');
    await expectRefused(
      files.worker.service.register({ ...ids, image: 'Not A Ref', host: HOST }),
      'InvalidRequest',
    );
    await expectRefused(
      files.worker.service.register({ ...ids, image: 'a:1', host: HOST, ttlSeconds: -5 }),
      'InvalidRequest',
    );
  });

  it('a host without a Docker worker fails the registration with a clear message', async () => {
    const ids = uniqueIds('nohost');
    const err = await expectRefused(
      files.worker.service.register({ ...ids, image: 'a:1', host: `absent-${randomUUID().slice(0, 6)}` }),
      'HostUnavailable',
    );
    expect(err.message).toMatch(/Docker worker/);
  }, 90_000);
});
