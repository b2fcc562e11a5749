// A workflow whose workflow task keeps failing with a nondeterminism error holds its image and
// answers nothing until it is reset. The chaos run met one (an SDK replay defect, pinned in
// sdk-update-replay.test.ts); this file proves the repair on a real server: a workflow wedged the
// same way (a worker that cannot replay the history another wrote) is found, reset at the right
// event, and runs on to its end, whether repaired directly or by the reconciler's owner check.
import { randomBytes } from 'node:crypto';
import type { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoPath } from '../../scripts/lib/repo-root.js';
import { createReconcileControlActivities } from '../../src/activities/reconcile-control-activities.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { repairWedgedWorkflow } from '../../src/service/repair-wedged-workflow.js';
import { connectClient } from '../../src/temporal/connect-client.js';
import { connectNative } from '../../src/temporal/connect-native.js';
import { testEnv } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';

const { temporal } = proto;
const EventType = temporal.api.enums.v1.EventType;
const Cause = temporal.api.enums.v1.WorkflowTaskFailedCause;
const probe = (version: 'a' | 'b') => repoPath('test', 'fixtures', 'wedge', `wedge-probe-${version}.ts`);

let client: Client;
let connection: Connection;
let native: NativeConnection;
const running: Array<{ worker: Worker; running: Promise<void> }> = [];
const newQueue = () => `wedge-${randomBytes(4).toString('hex')}`;

// No cache: every workflow task replays the whole history, as after a worker crash.
async function startWorker(version: 'a' | 'b', taskQueue: string) {
  const worker = await Worker.create({
    connection: native,
    namespace: client.options.namespace,
    taskQueue,
    workflowsPath: probe(version),
    maxCachedWorkflows: 0,
  });
  const started = { worker, running: worker.run() };
  running.push(started);
  return started;
}

async function stop(started: { worker: Worker; running: Promise<void> }): Promise<void> {
  if (started.worker.getState() === 'RUNNING') started.worker.shutdown();
  await started.running;
}

/**
 * Starts a probe under version A, lets A take `go` and start its hour-long timer, and leaves it to
 * version B, which fails every workflow task from the next signal on.
 */
async function wedgedProbe(): Promise<{ workflowId: string; timerCompletionId: number }> {
  const workflowId = `wedge-probe-${randomBytes(4).toString('hex')}`;
  const taskQueue = newQueue();
  const a = await startWorker('a', taskQueue);
  const handle = await client.workflow.start('wedgeProbe', { workflowId, taskQueue });
  await handle.signal('go');
  const events = async () => (await handle.fetchHistory()).events ?? [];
  await waitFor(
    async () => (await events()).some((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED),
    { timeoutMs: 60_000, message: 'version A to start its timer' },
  );
  await stop(a);
  const completions = (await events()).filter(
    (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  );
  await startWorker('b', taskQueue);
  await handle.signal('go');
  await waitFor(
    async () => {
      const d = await handle.describe();
      return (d.raw.pendingWorkflowTask?.attempt ?? 0) >= 3;
    },
    { timeoutMs: 120_000, message: 'the workflow task to fail three times in a row' },
  );
  const failed = (await events()).filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
  expect(failed.at(-1)?.workflowTaskFailedEventAttributes?.cause).toBe(
    Cause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR,
  );
  return { workflowId, timerCompletionId: Number(completions.at(-1)?.eventId) };
}

beforeAll(async () => {
  const config = loadConfig({ TEMPORAL_ADDRESS: testEnv().temporalAddress });
  ({ client, connection } = await connectClient(config));
  native = await connectNative(config);
});

afterAll(async () => {
  await Promise.all(running.map(stop));
  await native?.close();
  await connection?.close();
});

describe('repair of a wedged workflow', () => {
  it('leaves a healthy workflow alone', async () => {
    const taskQueue = newQueue();
    const a = await startWorker('a', taskQueue);
    try {
      const handle = await client.workflow.start('wedgeProbe', {
        workflowId: `wedge-healthy-${randomBytes(4).toString('hex')}`,
        taskQueue,
      });
      await waitFor(async () => ((await handle.fetchHistory()).events?.length ?? 0) >= 4, {
        timeoutMs: 30_000,
        message: 'the first workflow task',
      });
      await expect(repairWedgedWorkflow(client, handle.workflowId)).resolves.toEqual({ outcome: 'healthy' });
      await handle.terminate('test over');
    } finally {
      await stop(a);
    }
  }, 120_000);

  it('resets it at the task that cannot be replayed, and it runs on to its end', async () => {
    const { workflowId, timerCompletionId } = await wedgedProbe();
    const result = await repairWedgedWorkflow(client, workflowId);
    expect(result).toMatchObject({ outcome: 'reset', eventId: timerCompletionId });
    expect(result.outcome === 'reset' && result.newRunId).toBeTruthy();
    // The signal that came after the reset point is reapplied, so version B ends the new run.
    await expect(client.workflow.getHandle(workflowId).result()).resolves.toBe('b');
  }, 300_000);

  it("is done by the reconciler's owner check when an owner cannot answer its query", async () => {
    const { workflowId, timerCompletionId } = await wedgedProbe();
    const activities = createReconcileControlActivities({
      client,
      log: createLogger({ level: 'silent', name: 'repair-test' }),
    });
    const [view] = await activities.describeSnapshotWorkflows({ workflowIds: [workflowId] });
    expect(view?.status).toBe('error');
    expect(view?.repaired).toMatchObject({ workflowId, eventId: timerCompletionId });
    await expect(client.workflow.getHandle(workflowId).result()).resolves.toBe('b');
  }, 300_000);
});
