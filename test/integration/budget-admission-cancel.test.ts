// A budget admission waits on an update of its host's budget workflow, which waits on that host's
// Docker worker and on a workflow worker. When the worker running the admission shuts down, it
// cancels its activities (WORKER_SHUTDOWN) and waits for them: an update that ignored the
// cancellation kept the whole worker from stopping (a test file's clean-up waited out its 180 s
// hook timeout in CI). Here the budget's host has no Docker worker at all, so the real update on
// the real server cannot finish, and the activity must end as soon as it is cancelled.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlActivities } from '../../src/activities/create-activities.js';
import { budgetWorkflowId } from '../../src/contract/names.js';
import { createLogger } from '../../src/logging/logger.js';
import { testEnv } from '../support/test-env.js';

const HOST = `no-docker-worker-${randomUUID().slice(0, 8)}`;

let connection: Connection;
let client: Client;

beforeAll(async () => {
  connection = await Connection.connect({ address: testEnv().temporalAddress });
  client = new Client({ connection });
});

afterAll(async () => {
  await client?.workflow
    .getHandle(budgetWorkflowId(HOST))
    .terminate('test done')
    .catch(() => undefined);
  await connection?.close();
});

describe('a budget admission waiting on its budget workflow', () => {
  it('ends when its activity is cancelled (as a worker shutting down cancels it)', async () => {
    // The set the worker registers: the cancellation comes from its wrapper (until-cancelled.ts).
    const activities = createControlActivities({ client, log: createLogger({ level: 'silent' }) });
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 15_000 });
    const now = new Date().toISOString();
    const admission = env.run(activities.admitToBudget, {
      host: HOST,
      workflowId: `snapshot:cancel-test:${HOST}`,
      projectId: 'cancel-test',
      imageId: `sha256:${'0'.repeat(64)}`,
      sizeBytes: 1,
      createdAt: now,
      lastUsedAt: now,
    });
    const outcome = admission.then(
      () => 'answered',
      (err: unknown) => `failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    );
    // Long enough for the update to be on its way; the budget cannot answer without a Docker worker.
    const early = await Promise.race([outcome, new Promise((r) => setTimeout(() => r('waiting'), 2_000))]);
    expect(early).toBe('waiting');

    env.cancel('WORKER_SHUTDOWN');
    const cancelledAt = Date.now();
    const after = await Promise.race([
      outcome,
      new Promise((r) => setTimeout(() => r('still waiting 10 s after the cancellation'), 10_000)),
    ]);
    // Reported as cancelled (CancelledFailure), not as a failed gRPC call.
    expect(after).toBe('failed: CancelledFailure: WORKER_SHUTDOWN');
    console.info(`admission ended ${Date.now() - cancelledAt} ms after its cancellation: ${String(after)}`);
  }, 60_000);
});
