// Two Docker hosts on one Temporal: two private engines, each with its own Docker worker and host
// id. Host A runs the workflow worker too; host B's Docker worker is started and stopped by the test
// (a host whose worker goes away and comes back). Every Docker step of a snapshot runs on the
// queue of the host that holds its image, and nothing of one host is touched by the other.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBaseImage } from '../../scripts/lib/base-image.js';
import { createActivities } from '../../src/activities/index.js';
import { loadConfig } from '../../src/config/config.js';
import { loadProjectPolicies } from '../../src/config/project-policy.js';
import { createDockerPort, createDockerode } from '../../src/docker/dockerode-adapter.js';
import { createLogger } from '../../src/logging/logger.js';
import type { DrainHostResult } from '../../src/service/drain-host.js';
import { SnapshotError } from '../../src/service/snapshot-error.js';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import {
  budgetWorkflowId,
  dockerTaskQueue,
  reconcileScheduleId,
  snapshotWorkflowId,
} from '../../src/contract/names.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/contract/search-attribute-keys.js';
import { ensureReconcileSchedule } from '../../src/worker/ensure-reconcile-schedule.js';
import { budgetStateQuery, stateQuery } from '../../src/contract/messages.js';
import type { DockerEngine } from '../support/docker-engine.js';
import { startDockerEngine } from '../support/docker-engine.js';
import { TEST_WORKFLOW_OPTIONS } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { runCliJson, runCliProcess } from './cli-helpers.js';
import type { TestHost } from './reconcile-fixture.js';
import { imageAgeSeconds, startTestHost } from './reconcile-fixture.js';

const CLEANUP_STEPS = ['retireSnapshotImage', 'invalidateSnapshot', 'removeSnapshotImage'];
const DOCKER_STEPS = ['inspectSnapshotImage', ...CLEANUP_STEPS];

const DEADLINE = { timeoutMs: 60_000 };

interface HostB {
  hostId: string;
  dockerHost: string;
  docker: Dockerode;
  baseImageId: string;
  canaryImageId: string;
  engine: DockerEngine;
  dir: string;
}

let a: TestHost;
let b: HostB;
let stopWorkerB: (() => Promise<void>) | undefined;

/** Host B's Docker worker alone (no workflow role), as on a machine that only holds images. */
async function startWorkerB(): Promise<() => Promise<void>> {
  const config = loadConfig({
    TEMPORAL_ADDRESS: testEnv().temporalAddress,
    DOCKER_HOST: b.dockerHost,
    SNAPKEEPER_HOST_ID: b.hostId,
    SNAPKEEPER_WORKER_ROLES: 'docker',
    SNAPKEEPER_LOG_LEVEL: 'warn',
  });
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: dockerTaskQueue(b.hostId),
    activities: createActivities({
      docker: createDockerPort(createDockerode(b.dockerHost)),
      log: createLogger({ level: 'warn', name: `test-${b.hostId}` }),
      budget: config.budget,
      policies: await loadProjectPolicies(undefined),
    }),
  });
  const running = worker.run();
  return async () => {
    worker.shutdown();
    await running;
    await connection.close();
  };
}

beforeAll(async () => {
  const env = testEnv();
  a = await startTestHost({ name: 'mh-a' });
  const hostId = `mh-b-${Date.now().toString(36)}`;
  const dir = join(env.workDir, hostId);
  await mkdir(join(dir, 'data'), { recursive: true });
  const engine = await startDockerEngine(dir);
  const docker = newDocker(engine.dockerHost);
  const baseImageId = await ensureBaseImage(engine.dockerHost, env.baseImage);
  const canary = await makeSnapshotImage(docker, {
    projectId: 'canary',
    workItemId: 'canary',
    labels: 'none',
    fromImage: env.baseImage,
    tag: env.canaryImage,
  });
  b = {
    hostId,
    dockerHost: engine.dockerHost,
    docker,
    baseImageId,
    canaryImageId: canary.imageId,
    engine,
    dir,
  };
  stopWorkerB = await startWorkerB();
});

afterAll(async () => {
  const errors: unknown[] = [];
  for (const step of [
    async () => {
      if (!b) return;
      // snapkeeper must never remove what it does not manage, on either host.
      for (const id of [b.baseImageId, b.canaryImageId])
        if (!(await imageExists(b.docker, id)))
          throw new Error(`unmanaged image ${id} was removed from host B`);
    },
    () => stopWorkerB?.(),
    () =>
      a?.client.workflow
        .getHandle(budgetWorkflowId(b?.hostId ?? ''))
        .terminate('test done')
        .catch(() => undefined),
    () => b?.engine.stop(),
    () => (b ? rm(b.dir, { recursive: true, force: true }) : undefined),
    () => a?.stop(),
  ]) {
    try {
      await step();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'multi-host clean-up failed');
});

async function registerOn(
  host: { hostId: string; docker: Dockerode },
  prefix: string,
): Promise<{ ids: { projectId: string; workItemId: string }; image: string; imageId: string }> {
  const ids = uniqueIds(prefix);
  const img = await makeSnapshotImage(host.docker, ids);
  await a.service.register({ ...ids, image: img.image, host: host.hostId });
  return { ids, ...img };
}

/** The task queue of every Docker activity the workflow scheduled, by activity type. */
async function activityQueues(workflowId: string): Promise<Array<{ type: string; queue: string }>> {
  const history = await a.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const attrs = e.activityTaskScheduledEventAttributes;
    return attrs ? [{ type: attrs.activityType?.name ?? '', queue: attrs.taskQueue?.name ?? '' }] : [];
  });
}

describe('two Docker hosts on one Temporal', () => {
  it("inspects and removes a host B snapshot on host B's queue only; host A's images stay", async () => {
    const onA = await registerOn({ hostId: a.hostId, docker: a.docker }, 'mh-a');
    const onB = await registerOn(b, 'mh-b');
    expect(await imageExists(a.docker, onB.imageId)).toBe(false);

    // Host A's worker looks on host A's engine, where B's image is not.
    const wrongHost = a.service.register({ ...uniqueIds('mh-wrong'), image: onB.image, host: a.hostId });
    await expect(wrongHost).rejects.toBeInstanceOf(SnapshotError);
    await expect(wrongHost).rejects.toMatchObject({ type: 'ImageNotFound' });

    await a.service.invalidate(onB.ids.projectId, onB.ids.workItemId, 'done on B');
    await waitFor(async () => !(await imageExists(b.docker, onB.imageId)), {
      ...DEADLINE,
      message: 'the host B image was not removed',
    });
    const workflowId = snapshotWorkflowId(onB.ids.projectId, onB.ids.workItemId);
    await waitFor(
      async () => (await a.client.workflow.getHandle(workflowId).describe()).status.name === 'COMPLETED',
      {
        ...DEADLINE,
        message: 'the host B snapshot did not complete',
      },
    );
    const queues = await activityQueues(workflowId);
    const docker = queues.filter((q) => DOCKER_STEPS.includes(q.type));
    // Cleanup is one `retireSnapshotImage` hop when nothing blocks it (step by step otherwise).
    expect(docker.map((q) => q.type)).toEqual(
      expect.arrayContaining(['inspectSnapshotImage', 'retireSnapshotImage']),
    );
    expect(new Set(docker.map((q) => q.queue))).toEqual(new Set([dockerTaskQueue(b.hostId)]));

    // Host A's snapshot and image are untouched.
    expect(await imageExists(a.docker, onA.imageId)).toBe(true);
    expect((await a.service.view(onA.ids.projectId, onA.ids.workItemId))?.current?.state).toBe('active');
    await a.service.invalidate(onA.ids.projectId, onA.ids.workItemId, 'test done');
  });

  it("each host's reconciler and budget see only their own engine", async () => {
    const keepA = await registerOn({ hostId: a.hostId, docker: a.docker }, 'mh-budget-a');
    const keepB = await registerOn(b, 'mh-budget-b');
    const orphanA = await makeSnapshotImage(a.docker, uniqueIds('mh-orphan-a'));
    const orphanB = await makeSnapshotImage(b.docker, uniqueIds('mh-orphan-b'));
    for (const [docker, id] of [
      [a.docker, orphanA.imageId],
      [b.docker, orphanB.imageId],
    ] as const)
      await waitFor(async () => (await imageAgeSeconds(docker, id)) > 2, {
        timeoutMs: 15_000,
        message: 'orphan did not age',
      });

    const reportA = await a.reconcile({ orphanGraceSeconds: 1, dryRun: false });
    expect(reportA.error).toBeNull();
    expect(reportA.orphansRemoved.map((i) => i.imageId)).toEqual([orphanA.imageId]);
    expect(JSON.stringify(reportA)).not.toContain(orphanB.imageId);
    expect(JSON.stringify(reportA)).not.toContain(keepB.imageId);
    expect(await imageExists(a.docker, orphanA.imageId)).toBe(false);
    expect(await imageExists(b.docker, orphanB.imageId)).toBe(true);
    expect(await imageExists(a.docker, keepA.imageId)).toBe(true);

    const resultB = await runCliJson<{
      reports: Array<{ host: string; orphansRemoved: Array<{ imageId: string }> }>;
    }>(['reconcile', '--host', b.hostId, '--grace', '1s'], 0, { SNAPKEEPER_MIN_ORPHAN_GRACE: '1s' });
    expect(resultB.reports.map((r) => r.host)).toEqual([b.hostId]);
    expect(resultB.reports[0]?.orphansRemoved.map((i) => i.imageId)).toEqual([orphanB.imageId]);
    expect(await imageExists(b.docker, orphanB.imageId)).toBe(false);
    expect(await imageExists(b.docker, keepB.imageId)).toBe(true);

    const budgetA = await a.client.workflow.getHandle(budgetWorkflowId(a.hostId)).query(budgetStateQuery);
    const budgetB = await a.client.workflow.getHandle(budgetWorkflowId(b.hostId)).query(budgetStateQuery);
    expect(budgetA.entries.map((e) => e.imageId)).toContain(keepA.imageId);
    expect(budgetA.entries.map((e) => e.imageId)).not.toContain(keepB.imageId);
    expect(budgetB.entries.map((e) => e.imageId)).toContain(keepB.imageId);
    expect(budgetB.entries.map((e) => e.imageId)).not.toContain(keepA.imageId);

    await a.service.invalidate(keepA.ids.projectId, keepA.ids.workItemId, 'test done');
    await a.service.invalidate(keepB.ids.projectId, keepB.ids.workItemId, 'test done');
  });

  it("while host B's Docker worker is down its removal waits, visibly; when it returns, the image goes", async () => {
    // A short notice delay, so the wait shows within the test's deadline (30 s by default).
    const service = createSnapshotService({
      client: a.client,
      defaultTtlSeconds: 3600,
      workflowOptions: { ...TEST_WORKFLOW_OPTIONS, hostWaitNoticeSeconds: 2 },
    });
    const ids = uniqueIds('mh-down');
    const img = await makeSnapshotImage(b.docker, ids);
    await service.register({ ...ids, image: img.image, host: b.hostId });
    const onB = { ids, ...img };
    const workflowId = snapshotWorkflowId(onB.ids.projectId, onB.ids.workItemId);
    const handle = a.client.workflow.getHandle(workflowId);
    await stopWorkerB?.();
    stopWorkerB = undefined;

    await a.service.invalidate(onB.ids.projectId, onB.ids.workItemId, 'while B is down');
    // The cleanup activity sits in host B's queue; nothing else can run it.
    const pending = await waitFor(
      async () => {
        const raw = (await handle.describe()).raw;
        const p = raw.pendingActivities?.find((x) => CLEANUP_STEPS.includes(x.activityType?.name ?? ''));
        return p ? p : null;
      },
      { ...DEADLINE, message: 'no pending cleanup activity while host B is down' },
    );
    expect(CLEANUP_STEPS).toContain(pending.activityType?.name);
    const view = await handle.query(stateQuery);
    expect(view.current).toBeNull();
    expect(view.retiring.map((r) => r.imageId)).toEqual([onB.imageId]);
    // The wait is visible: the state, the search attributes and the Web UI's current details say
    // which host does not answer.
    const waiting = `waiting for host ${b.hostId}'s Docker worker (task queue ${dockerTaskQueue(b.hostId)})`;
    const shown = await waitFor(
      async () => {
        const sa = (await handle.describe()).typedSearchAttributes;
        return sa.get(SEARCH_ATTRIBUTE_KEYS.state) === 'removal-blocked' ? sa : null;
      },
      { ...DEADLINE, message: 'SnapshotState did not show the blocked removal' },
    );
    expect(shown.get(SEARCH_ATTRIBUTE_KEYS.host)).toBe(b.hostId);
    const blocked = await handle.query(stateQuery);
    expect(blocked.retiring).toEqual([
      expect.objectContaining({
        imageId: onB.imageId,
        state: 'removal-blocked',
        blockedBy: expect.stringContaining(waiting),
      }),
    ]);
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain(`blocked: ${waiting}`);
    expect(await imageExists(b.docker, onB.imageId)).toBe(true);

    stopWorkerB = await startWorkerB();
    await waitFor(async () => !(await imageExists(b.docker, onB.imageId)), {
      ...DEADLINE,
      message: 'the image was not removed once host B returned',
    });
    await waitFor(async () => (await handle.describe()).status.name === 'COMPLETED', {
      ...DEADLINE,
      message: 'the snapshot did not complete once host B returned',
    });
    expect((await handle.query(stateQuery)).last).toMatchObject({
      imageId: onB.imageId,
      state: 'removed',
      endReason: 'invalidated',
    });
  });
});

describe('snapkeeper drain-host', () => {
  it('ends every snapshot of a host while its worker runs, removes the images, then its schedule and budget', async () => {
    await ensureReconcileSchedule(a.client, {
      hostId: b.hostId,
      intervalMs: 3_600_000,
      orphanGraceSeconds: 3600,
    });
    const first = await registerOn(b, 'mh-drain');
    const second = await registerOn(b, 'mh-drain');
    const onA = await registerOn({ hostId: a.hostId, docker: a.docker }, 'mh-drain-a');
    // The drain finds the host's snapshots through visibility.
    await waitFor(
      async () => {
        const listed = await runCliJson<unknown[]>(['ls', '--host', b.hostId]);
        return listed.length >= 2;
      },
      { ...DEADLINE, message: 'visibility did not show the host B snapshots' },
    );

    const result = await runCliJson<DrainHostResult>(['drain-host', b.hostId, '--timeout', '90s']);
    expect(result).toMatchObject({
      hostId: b.hostId,
      mode: 'remove',
      complete: true,
      scheduleDeleted: true,
      budgetEnded: true,
    });
    expect(result.ended.map((e) => e.workItemId).sort()).toEqual(
      [first.ids.workItemId, second.ids.workItemId].sort(),
    );
    expect(await imageExists(b.docker, first.imageId)).toBe(false);
    expect(await imageExists(b.docker, second.imageId)).toBe(false);
    for (const s of [first, second]) {
      const view = await a.service.view(s.ids.projectId, s.ids.workItemId);
      expect(view?.last).toMatchObject({ state: 'removed', message: `host ${b.hostId} drained` });
    }
    await expect(a.client.schedule.getHandle(reconcileScheduleId(b.hostId)).describe()).rejects.toThrow();
    expect((await a.client.workflow.getHandle(budgetWorkflowId(b.hostId)).describe()).status.name).toBe(
      'TERMINATED',
    );
    // Host A is not part of it.
    expect((await a.service.view(onA.ids.projectId, onA.ids.workItemId))?.current?.state).toBe('active');
    expect(await imageExists(a.docker, onA.imageId)).toBe(true);
    await a.service.invalidate(onA.ids.projectId, onA.ids.workItemId, 'test done');
  });

  it('forgets a host that is gone for good: its workflows end without waiting, and say so', async () => {
    const gone = await registerOn(b, 'mh-forget');
    await stopWorkerB?.();
    stopWorkerB = undefined;
    await waitFor(async () => (await runCliJson<unknown[]>(['ls', '--host', b.hostId])).length >= 1, {
      ...DEADLINE,
      message: 'visibility did not show the host B snapshot',
    });
    // Without --forget the drain cannot finish: nothing can remove the image.
    const stuck = await runCliProcess(['drain-host', b.hostId, '--timeout', '3s']);
    expect(stuck.code).toBe(1);

    const result = await runCliJson<DrainHostResult>([
      'drain-host',
      b.hostId,
      '--forget',
      '--timeout',
      '60s',
    ]);
    expect(result).toMatchObject({ mode: 'forget', complete: true });
    expect(result.ended.map((e) => e.workItemId)).toEqual([gone.ids.workItemId]);
    const description = await a.client.workflow
      .getHandle(snapshotWorkflowId(gone.ids.projectId, gone.ids.workItemId))
      .describe();
    expect(description.status.name).toBe('TERMINATED');
    // Forgotten, not removed: had the host come back, its reconciler would reap this orphan.
    expect(await imageExists(b.docker, gone.imageId)).toBe(true);
    await b.docker.getImage(gone.imageId).remove({ force: true });
  });
});
