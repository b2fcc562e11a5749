import { readFile } from 'node:fs/promises';
import proto from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../scripts/lib/repo-root.js';
import { chooseResetPoint } from '../../src/service/choose-reset-point.js';

const { temporal } = proto;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
const T = temporal.api.enums.v1.EventType;
const Cause = temporal.api.enums.v1.WorkflowTaskFailedCause;

async function wedgedHistory(): Promise<HistoryEvent[]> {
  const bytes = await readFile(
    repoPath('test', 'fixtures', 'chaos', 'snapshot-update-after-task-timeout.history.bin'),
  );
  return temporal.api.history.v1.History.decode(bytes).events;
}

/** A history made of these event types, numbered from 1; a `failed:<cause>` entry fails a task. */
function history(...types: Array<number | ['failed', number]>): HistoryEvent[] {
  return types.map((t, i) =>
    temporal.api.history.v1.HistoryEvent.fromObject(
      Array.isArray(t)
        ? {
            eventId: i + 1,
            eventType: T.EVENT_TYPE_WORKFLOW_TASK_FAILED,
            workflowTaskFailedEventAttributes: { cause: t[1] },
          }
        : { eventId: i + 1, eventType: t },
    ),
  );
}

const nondeterminism: ['failed', number] = [
  'failed',
  Cause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR,
];
const { EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: STARTED, EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: SCHEDULED } = T;
const { EVENT_TYPE_WORKFLOW_TASK_STARTED: TASK_STARTED, EVENT_TYPE_WORKFLOW_TASK_COMPLETED: COMPLETED } = T;
const { EVENT_TYPE_TIMER_STARTED: TIMER, EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: SIGNALED } = T;

/** Events 1–7: the first task completed, a signal, and the task it scheduled started. */
const FIRST_TASK_AND_SIGNAL = [
  STARTED,
  SCHEDULED,
  TASK_STARTED,
  COMPLETED,
  SIGNALED,
  SCHEDULED,
  TASK_STARTED,
];

describe('chooseResetPoint', () => {
  it('resets the recorded SDK-defect history at the first task completed after the timed-out one (event 25)', async () => {
    const point = chooseResetPoint(await wedgedHistory());
    expect(point).toMatchObject({ kind: 'reset', eventId: 25 });
  });

  it('leaves a history whose newest task completed', async () => {
    const events = (await wedgedHistory()).slice(0, 57);
    expect(chooseResetPoint(events).kind).toBe('leave');
  });

  it('leaves a task that failed for another reason than nondeterminism', () => {
    const events = history(...FIRST_TASK_AND_SIGNAL, [
      'failed',
      Cause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
    ]);
    expect(chooseResetPoint(events)).toMatchObject({ kind: 'leave' });
  });

  it('leaves a run none of whose tasks ever completed', () => {
    expect(chooseResetPoint(history(STARTED, SCHEDULED, TASK_STARTED, nondeterminism)).kind).toBe('leave');
  });

  it('without an interrupted task, resets at the last completed one', () => {
    const events = history(
      ...FIRST_TASK_AND_SIGNAL,
      COMPLETED,
      TIMER,
      SIGNALED,
      SCHEDULED,
      TASK_STARTED,
      nondeterminism,
    );
    expect(chooseResetPoint(events)).toMatchObject({ kind: 'reset', eventId: 8 });
  });

  it('resets a run that came from a reset and still fails at its first task', () => {
    const events = history(
      ...FIRST_TASK_AND_SIGNAL,
      ['failed', Cause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW],
      SCHEDULED,
      TASK_STARTED,
      nondeterminism,
    );
    expect(chooseResetPoint(events)).toMatchObject({ kind: 'reset', eventId: 4 });
  });
});
