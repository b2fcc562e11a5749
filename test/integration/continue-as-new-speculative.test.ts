// Issue 17, the simulation's replay nondeterminism (invariant 5): a continue-as-new decided in a
// workflow task that replay does not see the way the live worker did. An update that its validator
// rejects (a touch with nothing current, or one already recorded) runs in a *speculative* workflow
// task: the worker sees a historyLength that counts that task's two events and the SDK
// re-evaluates every condition after the activation. The workflows' loops wait on that length
// (continue-as-new due), so they wake there. If the task then ends without a command, the server
// drops it, and the live loop has moved on where replay never wakes. If it ends with commands (a
// timer cancelled, the continue-as-new itself), the server keeps it, but replay gets no activation
// for a task with nothing to tell the workflow, so it never produces those commands. Either way a
// worker restart or cache eviction fails the workflow's tasks for good. The fix (patch
// continue-as-new-decision-recorded) records a marker where the decision is taken: a command the
// server keeps and that replay is told of, so replay wakes in that task too.
//
// Real dev server (the time-skipping test server makes no speculative tasks), the real workflow
// bundle on a task queue of this file, a fake Docker "host" of this file whose inspections and
// cleanups the test holds, and Worker.runReplayHistory on each first run's history.
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { Client, Connection, WithStartWorkflowOperation, WorkflowUpdateStage } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { WorkflowBundle } from '@temporalio/worker';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType } from '../../src/contract/errors.js';
import type { AdmitRequest } from '../../src/contract/budget-types.js';
import { budgetAdmitUpdate, registerUpdate, stateQuery, touchUpdate } from '../../src/contract/messages.js';
import {
  WORKFLOW_TYPES,
  budgetWorkflowId,
  dockerTaskQueue,
  snapshotWorkflowId,
} from '../../src/contract/names.js';
import type { ImageFacts, SnapshotState } from '../../src/contract/snapshot-types.js';
import { webpackConfigHook, workflowsPath } from '../../src/worker/workflow-bundle-options.js';
import { CONTINUE_AS_NEW_DECISION_RECORDED_PATCH } from '../../src/workflows/shared/patches.js';
import type { budgetWorkflow } from '../../src/workflows/budget/workflow.js';
import type { SnapshotCarry, snapshotWorkflow } from '../../src/workflows/snapshot/workflow.js';
import { testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';

const RUN = randomUUID().slice(0, 8);
const TASK_QUEUE = `can-speculative-${RUN}`;
const HOST = `can-speculative-${RUN}`;
const EventType = temporal.api.enums.v1.EventType;
const DEADLINE = { timeoutMs: 30_000, intervalMs: 100 };

/**
 * Below it at the first task (which sees 3 events: started, task scheduled and started), reached
 * by every task after it: the next task this run sees is the rejected touch's speculative one.
 */
const CONTINUE_AS_NEW_AFTER = 4;

let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let workflowBundle: WorkflowBundle;
const workers: { worker: Worker; running: Promise<void> }[] = [];

/** The inspection of this file's host: it answers only when the test lets it, with a refusal. */
let inspection: { asked: Latch; answer: Latch } | undefined;

beforeAll(async () => {
  const { temporalAddress } = testEnv();
  nativeConnection = await NativeConnection.connect({ address: temporalAddress });
  connection = await Connection.connect({ address: temporalAddress });
  client = new Client({ connection });
  workflowBundle = await bundleWorkflowCode({ workflowsPath, webpackConfigHook, logger: quiet });
  const workflowWorker = await Worker.create({
    connection: nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle,
  });
  const dockerWorker = await Worker.create({
    connection: nativeConnection,
    taskQueue: dockerTaskQueue(HOST),
    activities: {
      inspectSnapshotImage: async (input: { image: string }): Promise<ImageFacts> => {
        const held = inspection;
        if (!held) throw new Error('an inspection the test did not expect');
        held.asked.open();
        await held.answer.reached();
        throw ApplicationFailure.nonRetryable(
          `image ${input.image} does not exist on this host`,
          ErrorType.imageNotFound,
        );
      },
      // A cleanup that never gets through (a host that keeps failing): the image stays retiring.
      retireSnapshotImage: async (): Promise<never> => {
        await sleep(1000);
        throw new Error('this test host keeps the image');
      },
    },
  });
  for (const worker of [workflowWorker, dockerWorker]) workers.push({ worker, running: worker.run() });
});

afterAll(async () => {
  inspection?.answer.open();
  for (const { worker } of workers) worker.shutdown();
  await Promise.all(workers.map((w) => w.running));
  await nativeConnection?.close();
  await connection?.close();
});

describe('a continue-as-new decided in the task of a rejected update', () => {
  it('with a current image (a touch already recorded): the timer cancelled and the continue-as-new are replayed', async () => {
    const ids = uniqueIds('can-current');
    const now = new Date().toISOString();
    const current = image(ids, 1, {
      lastUsedAt: now,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const { run, workflowId, before } = await startWithCarry(ids, {
      ...emptyCarry(),
      current,
      last: current,
    });

    const touch = await run
      .executeUpdate(touchUpdate, { args: [{ recordEveryMs: 3_600_000 }] })
      .catch((err: unknown) => err);
    expect(touch).toBeInstanceOf(Error);

    // Failed before the fix: "No command scheduled for event HistoryEvent(id: …, TimerCanceled)".
    await expectRecordedContinueAsNew(run, workflowId, before);
    expect((await latestRun(workflowId).query(stateQuery)).current?.imageId).toBe(current.imageId);
    await latestRun(workflowId).terminate('test over');
  });

  it('with nothing current and a cleanup under way: the continue-as-new is replayed', async () => {
    const ids = uniqueIds('can-cleanup');
    const retiring: SnapshotState = { ...image(ids, 1), state: 'invalidated', endReason: 'invalidated' };
    const { run, workflowId, before } = await startWithCarry(ids, {
      ...emptyCarry(),
      retiring: [retiring],
      last: retiring,
    });

    const touch = await run.executeUpdate(touchUpdate, { args: [{}] }).catch((err: unknown) => err);
    expect(touch).toBeInstanceOf(Error);

    // Failed before the fix: "No command scheduled for event … WorkflowExecutionContinuedAsNew".
    await expectRecordedContinueAsNew(run, workflowId, before);
    await latestRun(workflowId).terminate('test over');
  });

  // Before the fix this one replayed (the registration's refusal reached the loop after the wait
  // woke again at that later task), but only because of the order of microtasks; the task where
  // the live loop decided was dropped. Now it is kept.
  it('with nothing current and a registration under way: the task is kept, and the run replays', async () => {
    const ids = uniqueIds('can-speculative');
    const workflowId = snapshotWorkflowId(ids.projectId, ids.workItemId);
    inspection = { asked: new Latch('the registration inspected'), answer: new Latch('the test let go') };

    // Nothing current; the registration keeps the run busy (not drained) while its host is asked.
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof snapshotWorkflow>(
      WORKFLOW_TYPES.snapshot,
      {
        workflowId,
        taskQueue: TASK_QUEUE,
        args: [{ ...ids, options: { continueAsNewAfterEvents: CONTINUE_AS_NEW_AFTER } }],
        workflowIdConflictPolicy: 'FAIL',
      },
    );
    const registration = await client.workflow.startUpdateWithStart(registerUpdate, {
      args: [{ image: `can-speculative/${RUN}:job-1`, host: HOST }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
      startWorkflowOperation,
    });
    // Nothing can end this run before the touch below: its id is the first run's.
    const firstRunId = (await (await startWorkflowOperation.workflowHandle()).describe()).runId;
    const run = client.workflow.getHandle<typeof snapshotWorkflow>(workflowId, firstRunId);
    await inspection.asked.reached();
    const before = await run.describe();

    // Rejected by its validator (nothing current): a speculative task, past the threshold.
    const touch = await run.executeUpdate(touchUpdate, { args: [{}] }).catch((err: unknown) => err);
    expect(touch).toBeInstanceOf(Error);

    // The registration is refused: nothing current, nothing pending. The run continues as new
    // (its decision stands), and the next run, with nothing to keep, completes.
    inspection.answer.open();
    await expect(registration.result()).rejects.toMatchObject({
      cause: { type: ErrorType.imageNotFound },
    });
    await waitFor(async () => (await run.describe()).status.name === 'CONTINUED_AS_NEW', {
      ...DEADLINE,
      message: `${workflowId}: the first run did not continue as new`,
    });
    const latest = client.workflow.getHandle<typeof snapshotWorkflow>(workflowId);
    await expect(latest.result()).resolves.toEqual({ last: null });

    // The first run's history replays through the same code (it failed with
    // "Complete workflow machine does not handle this event: WorkflowExecutionContinuedAsNew").
    const history = await run.fetchHistory();
    expect(history.events?.at(-1)?.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
    await Worker.runReplayHistory({ workflowBundle }, history, workflowId);

    // Because the loop's decision in the touch's task is recorded: that task stays in the history,
    // with the marker, right after what the history held before the touch.
    const events = history.events ?? [];
    expect(events.slice(before.historyLength, before.historyLength + 4).map((e) => e.eventType)).toEqual([
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
      EventType.EVENT_TYPE_MARKER_RECORDED,
    ]);
    expect(markerPatchIds(events.slice(before.historyLength))).toEqual([
      CONTINUE_AS_NEW_DECISION_RECORDED_PATCH,
    ]);
  });
});

// The budget's loop waits on the same threshold (budget/workflow.ts): a rejected admission's task
// that finds it due continues as new there. The server keeps that task (a command), but replay got
// no activation for it: "No command scheduled for event … WorkflowExecutionContinuedAsNew".
describe("the budget's continue-as-new in the task of a rejected admission", () => {
  it('is taken in that task, with the marker, and the run replays', async () => {
    const hostId = `${HOST}-budget`;
    const workflowId = budgetWorkflowId(hostId);
    const handle = await client.workflow.start<typeof budgetWorkflow>(WORKFLOW_TYPES.budget, {
      workflowId,
      taskQueue: TASK_QUEUE,
      args: [{ hostId, options: { continueAsNewAfterEvents: CONTINUE_AS_NEW_AFTER } }],
    });
    const run = client.workflow.getHandle<typeof budgetWorkflow>(workflowId, handle.firstExecutionRunId);
    try {
      // Its first task done (3 events seen there, below the threshold), nothing else to do.
      const before = await firstTaskDone(run, workflowId);
      // Refused by its validator (malformed): a speculative task, past the threshold.
      const refused = await run
        .executeUpdate(budgetAdmitUpdate, { args: [{} as AdmitRequest] })
        .catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(Error);
      await waitFor(async () => (await run.describe()).status.name === 'CONTINUED_AS_NEW', {
        ...DEADLINE,
        message: `${workflowId}: the first run did not continue as new`,
      });
      const history = await run.fetchHistory();
      await Worker.runReplayHistory({ workflowBundle }, history, workflowId);
      const kept = (history.events ?? []).slice(before);
      // The task, then its commands: the marker, the memo with the totals, the continue-as-new.
      expect(kept.slice(0, 3).map((e) => e.eventType)).toEqual(TASK_EVENTS);
      expect(kept.at(-1)?.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
      expect(markerPatchIds(kept)).toEqual([CONTINUE_AS_NEW_DECISION_RECORDED_PATCH]);
    } finally {
      await client.workflow
        .getHandle(workflowId)
        .terminate('test over')
        .catch(() => undefined);
    }
  });
});

const TASK_EVENTS = [
  EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
];

function emptyCarry(): SnapshotCarry {
  return { current: null, retiring: [], last: null, deliveries: [] };
}

function image(
  ids: { projectId: string; workItemId: string },
  n: number,
  times: { lastUsedAt?: string; expiresAt?: string } = {},
): SnapshotState {
  const now = new Date().toISOString();
  const ref = `can-speculative/${RUN}:job-${n}`;
  return {
    ...ids,
    image: ref,
    imageId: `sha256:${createHash('sha256').update(`${ids.workItemId}-${n}`).digest('hex')}`,
    host: HOST,
    state: 'active',
    createdAt: now,
    expiresAt: times.expiresAt ?? new Date(Date.now() + 3_600_000).toISOString(),
    lastUsedAt: times.lastUsedAt ?? now,
    sizeBytes: 1000,
    ttlSeconds: 3600,
    slidingTtl: false,
    pullRequest: null,
    endReason: null,
    blockedBy: null,
    message: null,
    references: [ref],
  };
}

/** A run taken up from a carry, once its first task is done; `before` is its history's length then. */
async function startWithCarry(ids: { projectId: string; workItemId: string }, carry: SnapshotCarry) {
  const workflowId = snapshotWorkflowId(ids.projectId, ids.workItemId);
  const handle = await client.workflow.start<typeof snapshotWorkflow>(WORKFLOW_TYPES.snapshot, {
    workflowId,
    taskQueue: TASK_QUEUE,
    args: [{ ...ids, options: { continueAsNewAfterEvents: CONTINUE_AS_NEW_AFTER }, carry }],
  });
  const run = client.workflow.getHandle<typeof snapshotWorkflow>(workflowId, handle.firstExecutionRunId);
  const before = await firstTaskDone(run, workflowId);
  return { run, workflowId, before };
}

/** The history's length once the first task completed (its commands are written with it). */
async function firstTaskDone(run: WorkflowHandle, workflowId: string): Promise<number> {
  return waitFor(
    async () => {
      const events = (await run.fetchHistory()).events ?? [];
      const done = events.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
      return done ? events.length : undefined;
    },
    { ...DEADLINE, message: `${workflowId}: the first task did not complete` },
  );
}

/**
 * The run continued as new, its history replays, and the events after `before` are the deciding
 * task, kept with the patch's marker, then the continue-as-new.
 */
async function expectRecordedContinueAsNew(
  run: WorkflowHandle,
  workflowId: string,
  before: number,
): Promise<void> {
  await untilContinuedAsNew(run, workflowId);
  const history = await run.fetchHistory();
  await Worker.runReplayHistory({ workflowBundle }, history, workflowId);
  const kept = (history.events ?? []).slice(before);
  expect(kept.slice(0, 3).map((e) => e.eventType)).toEqual(TASK_EVENTS);
  expect(kept.at(-1)?.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
  expect(markerPatchIds(kept)).toEqual([CONTINUE_AS_NEW_DECISION_RECORDED_PATCH]);
}

async function untilContinuedAsNew(run: WorkflowHandle, workflowId: string): Promise<void> {
  await waitFor(async () => (await run.describe()).status.name === 'CONTINUED_AS_NEW', {
    ...DEADLINE,
    message: `${workflowId}: the first run did not continue as new`,
  });
}

function latestRun(workflowId: string): WorkflowHandle<typeof snapshotWorkflow> {
  return client.workflow.getHandle<typeof snapshotWorkflow>(workflowId);
}

function markerPatchIds(events: temporal.api.history.v1.IHistoryEvent[]): string[] {
  const ids: string[] = [];
  for (const e of events) {
    const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
    if (!data) continue;
    const parsed: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'id' in parsed && typeof parsed.id === 'string') {
      ids.push(parsed.id);
    }
  }
  return ids;
}

/** A point of the race the test opens once; one never opened fails the case instead of hanging it. */
class Latch {
  private resolve: () => void = () => undefined;
  private readonly opened = new Promise<void>((resolve) => (this.resolve = resolve));

  constructor(private readonly what: string) {}

  open(): void {
    this.resolve();
  }

  async reached(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`never reached: ${this.what}`)), DEADLINE.timeoutMs);
    });
    try {
      await Promise.race([this.opened, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

const quiet = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error(message: string) {
    process.stderr.write(`${message}\n`);
  },
};
