import { describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { historyBreakdown } from '../../bench/history-breakdown.js';

const T = temporal.api.enums.v1.EventType;

function at(ms: number) {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Plain numbers where the generated types want Long: the code under test reads them with Number(). */
const ev = (fields: Record<string, unknown>) => fields as HistoryEvent;

function history(offset: number): HistoryEvent[] {
  return [
    ev({ eventId: 1, eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, eventTime: at(0) }),
    ev({
      eventId: 5,
      eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
      eventTime: at(1000),
      workflowExecutionSignaledEventAttributes: { signalName: 'merged' },
    }),
    ev({ eventId: 6, eventType: T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, eventTime: at(1002) }),
    ev({ eventId: 7, eventType: T.EVENT_TYPE_WORKFLOW_TASK_STARTED, eventTime: at(1010 + offset) }),
    ev({
      eventId: 8,
      eventType: T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
      eventTime: at(1020 + offset),
      activityTaskScheduledEventAttributes: { activityType: { name: 'removeSnapshotImage' } },
    }),
    ev({
      eventId: 9,
      eventType: T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
      eventTime: at(1050 + offset),
      activityTaskCompletedEventAttributes: { scheduledEventId: 8 },
    }),
  ];
}

function fakeClient(histories: Record<string, HistoryEvent[]>): Client {
  return {
    workflow: { getHandle: (id: string) => ({ fetchHistory: async () => ({ events: histories[id] }) }) },
  } as unknown as Client;
}

describe("B1's breakdown of a workflow's reaction, read from its history", () => {
  it('gives the median gap of each step from the signal on, naming activities', async () => {
    const client = fakeClient({ a: history(0), b: history(10), c: history(20) });
    const steps = await historyBreakdown(client, ['a', 'b', 'c'], 'merged');
    expect(steps).toEqual([
      { step: 'WORKFLOW_EXECUTION_SIGNALED merged → WORKFLOW_TASK_SCHEDULED', medianMs: 2, n: 3 },
      { step: 'WORKFLOW_TASK_SCHEDULED → WORKFLOW_TASK_STARTED', medianMs: 18, n: 3 },
      { step: 'WORKFLOW_TASK_STARTED → ACTIVITY_TASK_SCHEDULED removeSnapshotImage', medianMs: 10, n: 3 },
      {
        step: 'ACTIVITY_TASK_SCHEDULED removeSnapshotImage → ACTIVITY_TASK_COMPLETED removeSnapshotImage',
        medianMs: 30,
        n: 3,
      },
    ]);
  });

  it('skips a workflow that never got the signal', async () => {
    const client = fakeClient({ a: history(0).filter((e) => Number(e.eventId) !== 5) });
    expect(await historyBreakdown(client, ['a'], 'merged')).toEqual([]);
  });
});
