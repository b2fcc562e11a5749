// A snapshot run started with a generation (src/contract/run-generation.ts; the API sets it): it
// takes the lean lifecycle without the patch's marker (and so without the SDK's
// TemporalChangeVersion upsert), and a recorded use of a fixed TTL makes no memo upsert of its own
// (issue 19). Runs started without one, and runs whose first task a worker of the previous code
// took, replay as before. On Temporal's time-skipping test server, with scripted Docker activities.
import { WithStartWorkflowOperation } from '@temporalio/client';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billableActionNames, tallyOf } from '../../bench/b7-history-cost.js';
import { registerUpdate, usedSignal } from '../../src/contract/messages.js';
import { WORKFLOW_TASK_QUEUE, WORKFLOW_TYPES, snapshotWorkflowId } from '../../src/contract/names.js';
import type {
  PullRequestClosedInput,
  PullRequestClosedWorkflowFunction,
  PullRequestLooksRequest,
} from '../../src/contract/pull-request-types.js';
import { PULL_REQUEST_RUN_GENERATION, SNAPSHOT_RUN_GENERATION } from '../../src/contract/run-generation.js';
import type { RegisterRequest, SnapshotWorkflowView } from '../../src/contract/snapshot-types.js';
import type { snapshotWorkflow } from '../../src/workflows/snapshot/workflow.js';
import {
  LEAN_LIFECYCLE_PATCH,
  PULL_REQUEST_LOOKS_IN_ONE_ACTIVITY_PATCH,
} from '../../src/workflows/shared/patches.js';
import { imageIdOf } from './support/fake-docker-hosts.js';
import { injectSpecContext } from './support/provided-context.js';
import type { SnapshotHandle } from './support/snapshot-driver.js';
import { HOUR_MS, PROJECT, SnapshotDriver, newWorkItem } from './support/snapshot-driver.js';
import type { SpecEnvironment } from './support/spec-environment.js';
import { startSpecEnvironment } from './support/spec-environment.js';

const { temporal } = proto;
type History = proto.temporal.api.history.v1.IHistory;
const EventType = temporal.api.enums.v1.EventType;

let spec: SpecEnvironment;
let driver: SnapshotDriver;
/** What the pull request workflows' one look activity was asked, in order. */
const looksAsked: PullRequestLooksRequest[] = [];

beforeAll(async () => {
  spec = await startSpecEnvironment({
    controlActivities: () => ({
      // Each look found nothing: what the workflow records does not depend on it.
      lookForPullRequestTargets(req: PullRequestLooksRequest) {
        looksAsked.push(req);
        return Promise.resolve({
          looks: req.lookDelaysSeconds.map(() => ({ at: req.since, found: 0, signalled: 0 })),
        });
      },
    }),
  });
  driver = new SnapshotDriver(spec);
});

afterAll(async () => {
  await spec?.teardown();
});

/** Starts a work item with its first image as the service does, with or without a generation. */
async function startWith(
  workItemId: string,
  registration: Omit<RegisterRequest, 'host'>,
  generation: number | undefined,
): Promise<SnapshotHandle> {
  const startWorkflowOperation = new WithStartWorkflowOperation<typeof snapshotWorkflow>('snapshotWorkflow', {
    workflowId: snapshotWorkflowId(PROJECT, workItemId),
    taskQueue: WORKFLOW_TASK_QUEUE,
    args: [{ projectId: PROJECT, workItemId, ...(generation !== undefined ? { generation } : {}) }],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  await spec.client.workflow.executeUpdateWithStart(registerUpdate, {
    args: [{ ...registration, host: 'build-1' }],
    startWorkflowOperation,
  });
  return driver.handle(workItemId);
}

interface Counted {
  markers: string[];
  activities: string[];
  changeVersionUpserts: number;
  attributeUpserts: number;
  memoUpserts: number;
  timers: number;
}

function count(history: History): Counted {
  const c: Counted = {
    markers: [],
    activities: [],
    changeVersionUpserts: 0,
    attributeUpserts: 0,
    memoUpserts: 0,
    timers: 0,
  };
  for (const e of history.events ?? []) {
    switch (e.eventType) {
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
        if (data) c.markers.push((JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id);
        break;
      }
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
        if ('TemporalChangeVersion' in fields) c.changeVersionUpserts++;
        else c.attributeUpserts++;
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
        c.memoUpserts++;
        break;
      case EventType.EVENT_TYPE_TIMER_STARTED:
        c.timers++;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        c.activities.push(e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?');
        break;
      default:
        break;
    }
  }
  return c;
}

/** The first event's input with the generation set, as a worker of this code would read it. */
function withGeneration(history: History, generation: number): void {
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload?.data) throw new Error('no input payload in the first event');
  const input = JSON.parse(Buffer.from(payload.data).toString('utf8')) as Record<string, unknown>;
  expect(input.generation).toBeUndefined();
  payload.data = Buffer.from(JSON.stringify({ ...input, generation }), 'utf8');
}

/** How B7 names the snapshot workflow's attribute upsert in a state. */
const B7_ATTRIBUTES = (state: string): string =>
  'SnapshotExpiresAt, SnapshotHost, SnapshotImage, SnapshotProjectId, SnapshotPullRequest, ' +
  `SnapshotRepository, SnapshotSizeBytes, SnapshotState=${state}, SnapshotWorkItemId`;

async function replay(workflowId: string, history: History): Promise<void> {
  const { workflowBundlePath } = injectSpecContext();
  await Worker.runReplayHistory({ workflowBundle: { codePath: workflowBundlePath } }, history, workflowId);
}

/**
 * A TTL lifecycle with one recorded use, as B7's: registered, the lookup's `used` signal past the
 * recording interval, then the TTL. Returns the closed run's history.
 */
async function ttlLifecycle(
  label: string,
  registration: Omit<RegisterRequest, 'host' | 'image'>,
  generation: number | undefined,
): Promise<{ handle: SnapshotHandle; history: History; used: SnapshotWorkflowView }> {
  const id = newWorkItem(label);
  const image = `snap/${id}:job-1`;
  const imageId = imageIdOf(image);
  const handle = await startWith(id, { image, ...registration }, generation);
  await spec.env.sleep(10 * 60_000);
  await handle.signal(usedSignal, { imageId, recordEveryMs: 60_000 });
  const used = await driver.until(
    handle,
    'the use recorded',
    (v) => v.current?.lastUsedAt !== v.current?.createdAt,
  );
  await spec.env.sleep(3 * HOUR_MS);
  expect((await handle.result()).last).toMatchObject({ imageId, state: 'removed', endReason: 'expired' });
  return { handle, history: await handle.fetchHistory(), used };
}

describe('a run started with a generation', () => {
  it('a TTL lifecycle with one recorded use: no patch marker, no TemporalChangeVersion upsert, 2 memo upserts (the use rides along), and it replays', async () => {
    const { handle, history, used } = await ttlLifecycle(
      'gen-ttl',
      { ttlSeconds: 3600 },
      SNAPSHOT_RUN_GENERATION,
    );
    const c = count(history);
    expect(c.markers).toEqual([]);
    expect(c.changeVersionUpserts).toBe(0);
    // The accepted image and the ending; the use is in the workflow's state, not upserted on its own.
    expect(c.memoUpserts).toBe(2);
    expect(c.attributeUpserts).toBe(2);
    expect(c.timers).toBe(1);
    // Recorded where the budget and the state query read it.
    expect(used.current?.lastUsedAt).not.toBe(used.current?.createdAt);
    // As B7 names and counts them (bench/b7-history-cost.ts); the scripted host tells the budget of
    // every image (admitToBudget), which B7's host, without limits, does not: B7's 10 plus that one.
    expect(billableActionNames(history.events ?? []).sort()).toEqual([
      'activity admitToBudget',
      'activity inspectSnapshotImage',
      'activity retireSnapshotImage',
      'memo snapshot',
      'memo snapshot',
      `search attributes ${B7_ATTRIBUTES('active')}`,
      `search attributes ${B7_ATTRIBUTES('removed')}`,
      'signal used',
      'start snapshotWorkflow',
      'timer 3600 s',
      'update register',
    ]);
    expect(tallyOf(history.events ?? []).actions).toBe(11);
    await replay(handle.workflowId, history);
  });

  it('a sliding TTL still publishes its use at once: the memo and the attributes carry the new expiry', async () => {
    const { handle, history } = await ttlLifecycle(
      'gen-sliding',
      { ttlSeconds: 3600, slidingTtl: true },
      SNAPSHOT_RUN_GENERATION,
    );
    const c = count(history);
    expect(c.markers).toEqual([]);
    // Accepted, the use (a new expiry), the ending.
    expect(c.memoUpserts).toBe(3);
    // active, active with the new expiry, removed.
    expect(c.attributeUpserts).toBe(3);
    await replay(handle.workflowId, history);
  });

  it('without a generation a run decides by the patch, as before: the lean marker, its upsert, and a memo upsert for the use', async () => {
    const { handle, history } = await ttlLifecycle('gen-none', { ttlSeconds: 3600 }, undefined);
    const c = count(history);
    expect(c.markers).toEqual([LEAN_LIFECYCLE_PATCH]);
    expect(c.changeVersionUpserts).toBe(1);
    expect(c.memoUpserts).toBe(3);
    // B7's 12 for a TTL lifecycle before the generation, plus the scripted host's admission.
    expect(tallyOf(history.events ?? []).actions).toBe(13);
    await replay(handle.workflowId, history);
  });

  it('a run with a generation whose first task a worker of the previous code took (the lean marker and a memo upsert per use in its history) replays', async () => {
    // The previous code knew nothing of the generation: a run it took up has the history of a run
    // without one. The same history with the generation in its input is what this code meets
    // when such a run comes back to it (a rolling deploy).
    const { handle, history } = await ttlLifecycle('gen-earlier-worker', { ttlSeconds: 3600 }, undefined);
    withGeneration(history, SNAPSHOT_RUN_GENERATION);
    expect(count(history).markers).toEqual([LEAN_LIFECYCLE_PATCH]);
    await replay(handle.workflowId, history);
  });
});

/** A merged pull request's workflow, started as the API hands a merge over, run to its end. */
async function pullRequestRun(
  label: string,
  generation: number | undefined,
): Promise<{ id: string; history: History }> {
  const id = `pull-request-${newWorkItem(label)}`;
  const input: PullRequestClosedInput = {
    kind: 'merged',
    pullRequest: { repository: 'acme/app', number: 7 },
    deliveryId: `delivery-${id}`,
    branchTargets: [],
    options: { lookDelaysSeconds: [10, 60] },
    ...(generation !== undefined ? { generation } : {}),
  };
  const handle = await spec.client.workflow.start<PullRequestClosedWorkflowFunction>(
    WORKFLOW_TYPES.pullRequestClosed,
    {
      workflowId: id,
      taskQueue: WORKFLOW_TASK_QUEUE,
      args: [input],
    },
  );
  const result = await handle.result();
  expect(result.looks).toHaveLength(2);
  return { id, history: await handle.fetchHistory() };
}

describe('a pull request workflow started with a generation', () => {
  it('makes its looks in one activity without the patch marker, and replays', async () => {
    const { id, history } = await pullRequestRun('pr-gen', PULL_REQUEST_RUN_GENERATION);
    const c = count(history);
    expect(c.markers).toEqual([]);
    expect(c.changeVersionUpserts).toBe(0);
    expect(c.activities).toEqual(['lookForPullRequestTargets']);
    // The activity is asked what the webhook handed over, and nothing of which code started it.
    expect(looksAsked.at(-1)).not.toHaveProperty('generation');
    await replay(id, history);
  });

  it('without a generation decides by the patch, as before; with one taken up by an earlier worker (the marker in its history) it replays', async () => {
    const { id, history } = await pullRequestRun('pr-none', undefined);
    const c = count(history);
    expect(c.markers).toEqual([PULL_REQUEST_LOOKS_IN_ONE_ACTIVITY_PATCH]);
    expect(c.changeVersionUpserts).toBe(1);
    expect(c.activities).toEqual(['lookForPullRequestTargets']);
    await replay(id, history);
    withGeneration(history, PULL_REQUEST_RUN_GENERATION);
    await replay(id, history);
  });
});
