// Leases on the real engine and the dev server (issue 21, part 1): a router takes a lease through
// the API, commits its container with commitSnapshot (which writes io.snapkeeper.lease), and the
// reconciler leaves that commit alone while the lease lives however old it is, then reaps it by
// the next run once the lease is released or has expired. A registration naming the lease consumes
// it; one naming another work item's lease does not end that lease.
import { SnapkeeperClient, commitSnapshot } from '@snapkeeper/client';
import type { CommittedSnapshot } from '@snapkeeper/client';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '../../src/api/server.js';
import { createApiServer } from '../../src/api/server.js';
import { createApiMetrics } from '../../src/api/metrics.js';
import { parseProjectPolicies } from '../../src/config/project-policy.js';
import { LABEL_LEASE, leaseWorkflowId } from '../../src/contract/names.js';
import { createLogger } from '../../src/logging/logger.js';
import { createLeaseService } from '../../src/service/lease-service.js';
import { runContainerFrom } from '../support/containers.js';
import { imageExists } from '../support/snapshot-images.js';
import { testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { imageAgeSeconds, startTestHost } from './reconcile-fixture.js';

/** Short, so the commits are soon older than it; a lease must then be all that keeps them. */
const GRACE = 2;
const TOKEN = 'lease-test-token';

let host: TestHost;
let api: ApiServer;
let baseUrl: string;
let client: SnapkeeperClient;

beforeAll(async () => {
  host = await startTestHost({ name: 'lease' });
  api = createApiServer({
    config: { ...host.config, api: { ...host.config.api, token: TOKEN }, onCloseWithoutMerge: 'ignore' },
    service: host.service,
    client: host.client,
    policies: parseProjectPolicies('{}'),
    log: createLogger({ level: 'warn', name: 'lease-api' }),
    metrics: createApiMetrics({ defaultMetrics: false }),
    leases: createLeaseService({ client: host.client }),
  });
  baseUrl = await api.listen({ host: '127.0.0.1', port: 0 });
  client = new SnapkeeperClient({ baseUrl, token: TOKEN });
});

afterAll(async () => {
  await api?.close();
  await host?.stop();
});

/** A job's container, committed by the client package as a router does, then gone. */
async function commitJob(
  ids: { projectId: string; workItemId: string },
  lease?: { ttlSeconds: number },
): Promise<CommittedSnapshot> {
  const job = await runContainerFrom(host.docker, testEnv().baseImage);
  try {
    return await commitSnapshot(host.docker, {
      containerId: job.id,
      ...ids,
      ...(lease ? { lease: { client, ttlSeconds: lease.ttlSeconds } } : {}),
    });
  } finally {
    await job.stop();
  }
}

async function olderThanGrace(imageId: string): Promise<void> {
  await waitFor(async () => (await imageAgeSeconds(host.docker, imageId)) > GRACE + 1, {
    timeoutMs: 30_000,
    message: `image ${imageId} did not get older than the grace`,
  });
}

async function leaseStatus(leaseId: string): Promise<string> {
  return (await host.client.workflow.getHandle(leaseWorkflowId(leaseId)).describe()).status.name;
}

async function historyLength(leaseId: string): Promise<number> {
  return (await host.client.workflow.getHandle(leaseWorkflowId(leaseId)).fetchHistory()).events?.length ?? 0;
}

const EVENT = temporal.api.enums.v1.EventType;

/** A release signal is in the lease's history, and a workflow task completed after it. */
async function releaseHandled(leaseId: string): Promise<boolean> {
  const events = (await host.client.workflow.getHandle(leaseWorkflowId(leaseId)).fetchHistory()).events ?? [];
  const signalled = events.findIndex((e) => e.eventType === EVENT.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  return (
    signalled >= 0 &&
    events.slice(signalled).some((e) => e.eventType === EVENT.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
  );
}

const ids = (images: Array<{ imageId: string }>) => images.map((i) => i.imageId);

describe('leases', () => {
  it('a leased commit older than the grace survives a reconcile; once released, the next reconcile reaps it', async () => {
    const leased = await commitJob(uniqueIds('leased'), { ttlSeconds: 600 });
    const bare = await commitJob(uniqueIds('bare'));
    expect(leased.leaseId).toMatch(/^[0-9a-f-]{36}$/);
    const labels = (await host.docker.getImage(leased.imageId).inspect()).Config.Labels ?? {};
    expect(labels[LABEL_LEASE]).toBe(leased.leaseId);
    await olderThanGrace(leased.imageId);
    await olderThanGrace(bare.imageId);

    const first = await host.reconcile({ orphanGraceSeconds: GRACE, dryRun: false });
    expect(first.error).toBeNull();
    // The same age without a lease is reaped in the same run: only the lease kept the other one.
    expect(ids(first.orphansRemoved)).toContain(bare.imageId);
    expect(await imageExists(host.docker, bare.imageId)).toBe(false);
    expect(ids(first.orphansRemoved)).not.toContain(leased.imageId);
    expect(ids(first.orphansKeptYoung)).toContain(leased.imageId);
    expect(await imageExists(host.docker, leased.imageId)).toBe(true);
    // Not fenced: its registration would still be accepted.
    const tags = (await host.docker.getImage(leased.imageId).inspect()).RepoTags ?? [];
    expect(tags.filter((t) => t.startsWith('snapkeeper/reaping:'))).toEqual([]);

    expect(await client.releaseLease(leased.leaseId!)).toBe(true);
    await waitFor(async () => (await leaseStatus(leased.leaseId!)) === 'COMPLETED', {
      timeoutMs: 30_000,
      message: 'the released lease did not complete',
    });
    const released = await historyLength(leased.leaseId!);
    process.stdout.write(`lease released early: ${released} history events\n`);
    expect(released).toBeLessThanOrEqual(9);
    // Idempotent: the ended lease answers 204 again.
    expect(await client.releaseLease(leased.leaseId!)).toBe(true);

    const second = await host.reconcile({ orphanGraceSeconds: GRACE, dryRun: false });
    expect(ids(second.orphansRemoved)).toContain(leased.imageId);
    expect(await imageExists(host.docker, leased.imageId)).toBe(false);
  });

  it('an expired lease makes the commit an ordinary orphan, reaped by the next reconcile', async () => {
    const ttlSeconds = 15;
    const leased = await commitJob(uniqueIds('expiring'), { ttlSeconds });
    expect(Date.parse(leased.leaseExpiresAt!)).toBeGreaterThan(Date.now());
    await olderThanGrace(leased.imageId);

    const first = await host.reconcile({ orphanGraceSeconds: GRACE, dryRun: false });
    // Only meaningful while the lease still lived when the run ended.
    expect(await leaseStatus(leased.leaseId!)).toBe('RUNNING');
    expect(ids(first.orphansKeptYoung)).toContain(leased.imageId);
    expect(await imageExists(host.docker, leased.imageId)).toBe(true);

    // Ended by its execution timeout: no timer, no signal.
    await waitFor(async () => (await leaseStatus(leased.leaseId!)) === 'TIMED_OUT', {
      timeoutMs: (ttlSeconds + 20) * 1000,
      message: 'the lease did not time out',
    });
    const expired = await historyLength(leased.leaseId!);
    process.stdout.write(`lease expired: ${expired} history events\n`);
    expect(expired).toBeLessThanOrEqual(5);
    const second = await host.reconcile({ orphanGraceSeconds: GRACE, dryRun: false });
    expect(ids(second.orphansRemoved)).toContain(leased.imageId);
    expect(await imageExists(host.docker, leased.imageId)).toBe(false);
  });

  it("an accepted registration consumes its lease; another work item's registration cannot end it", async () => {
    const a = uniqueIds('consumed');
    const b = uniqueIds('intruder');
    const snapA = await commitJob(a, { ttlSeconds: 600 });
    const snapB = await commitJob(b, { ttlSeconds: 600 });

    // B's registration names A's lease: accepted (B's own image), but A's lease stays.
    const regB = await client.register({
      ...b,
      image: snapB.image,
      host: host.hostId,
      leaseId: snapA.leaseId!,
    });
    expect(regB.outcome).toBe('created');
    // The release reached A's lease, which handled it (a task completed after it) and ignored it.
    await waitFor(() => releaseHandled(snapA.leaseId!), {
      timeoutMs: 30_000,
      message: "A's lease did not handle B's release",
    });
    expect(await leaseStatus(snapA.leaseId!)).toBe('RUNNING');

    // A refused registration (the image is B's, the labels say so) consumes nothing.
    await expect(
      client.register({ ...a, image: snapB.image, host: host.hostId, leaseId: snapA.leaseId! }),
    ).rejects.toMatchObject({ status: 422 });
    expect(await leaseStatus(snapA.leaseId!)).toBe('RUNNING');

    const regA = await client.register({
      ...a,
      image: snapA.image,
      host: host.hostId,
      leaseId: snapA.leaseId!,
    });
    expect(regA.outcome).toBe('created');
    await waitFor(async () => (await leaseStatus(snapA.leaseId!)) === 'COMPLETED', {
      timeoutMs: 30_000,
      message: 'the registration did not consume the lease',
    });
    const result = (await host.client.workflow.getHandle(leaseWorkflowId(snapA.leaseId!)).result()) as {
      reason: string;
    };
    expect(result.reason).toContain('registration');

    // Registered, it is owned: a reconcile keeps it with no lease at all.
    await olderThanGrace(snapA.imageId);
    const report = await host.reconcile({ orphanGraceSeconds: GRACE, dryRun: false });
    expect(ids(report.orphansRemoved)).not.toContain(snapA.imageId);
    expect(await imageExists(host.docker, snapA.imageId)).toBe(true);
    await client.releaseLease(snapB.leaseId!);
  });

  it('DELETE and POST over HTTP: 201, 204, 204 again, 404 unknown, 400 and 401', async () => {
    const call = (method: string, path: string, body?: unknown, token: string | null = TOKEN) =>
      fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    const target = uniqueIds('http');
    const made = await call('POST', '/v1/leases', { ...target, ttlSeconds: 60 });
    expect(made.status).toBe(201);
    const grant = (await made.json()) as { leaseId: string; expiresAt: string };
    expect(made.headers.get('location')).toBe(`/v1/leases/${grant.leaseId}`);
    expect(await leaseStatus(grant.leaseId)).toBe('RUNNING');
    const described = await host.client.workflow.getHandle(leaseWorkflowId(grant.leaseId)).describe();
    expect(described.memo?.lease).toEqual({ ...target, expiresAt: grant.expiresAt });

    expect((await call('POST', '/v1/leases', { ...target, ttlSeconds: 1 })).status).toBe(400);
    expect((await call('POST', '/v1/leases', { ...target, ttlSeconds: 86_401 })).status).toBe(400);
    expect((await call('POST', '/v1/leases', { projectId: target.projectId })).status).toBe(400);
    expect((await call('POST', '/v1/leases', target, null)).status).toBe(401);
    expect((await call('DELETE', `/v1/leases/${grant.leaseId}`, undefined, null)).status).toBe(401);
    expect(await leaseStatus(grant.leaseId)).toBe('RUNNING');

    expect((await call('DELETE', `/v1/leases/${grant.leaseId}`)).status).toBe(204);
    expect((await call('DELETE', `/v1/leases/${grant.leaseId}`)).status).toBe(204);
    const unknown = await call('DELETE', '/v1/leases/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'LeaseNotFound' });
    expect((await call('DELETE', '/v1/leases/not-a-lease')).status).toBe(400);
    expect(await client.releaseLease('00000000-0000-4000-8000-000000000000')).toBe(false);
  });
});
