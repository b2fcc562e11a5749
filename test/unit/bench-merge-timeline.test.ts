import { describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { mergeTimeline } from '../../bench/merge-timeline.js';

const T = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function at(ms: number) {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

/** Plain numbers where the generated types want Long: the code under test reads them with Number(). */
const ev = (fields: Record<string, unknown>) => fields as HistoryEvent;

/** A merge as the server records it: the activity's STARTED event is written with its completion. */
function history(offset: number): HistoryEvent[] {
  return [
    ev({ eventId: 1, eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, eventTime: at(0) }),
    ev({ eventId: 2, eventType: T.EVENT_TYPE_WORKFLOW_TASK_STARTED, eventTime: at(10) }),
    ev({
      eventId: 5,
      eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
      eventTime: at(1000),
      workflowExecutionSignaledEventAttributes: { signalName: 'merged' },
    }),
    ev({ eventId: 6, eventType: T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, eventTime: at(1000) }),
    ev({ eventId: 7, eventType: T.EVENT_TYPE_WORKFLOW_TASK_STARTED, eventTime: at(1010 + offset) }),
    ev({ eventId: 8, eventType: T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, eventTime: at(1030 + offset) }),
    ev({
      eventId: 9,
      eventType: T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
      eventTime: at(1030 + offset),
      activityTaskScheduledEventAttributes: { activityType: { name: 'retireSnapshotImage' } },
    }),
    ev({
      eventId: 10,
      eventType: T.EVENT_TYPE_ACTIVITY_TASK_STARTED,
      eventTime: at(1035 + offset),
      activityTaskStartedEventAttributes: { scheduledEventId: 9 },
    }),
    ev({
      eventId: 11,
      eventType: T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
      eventTime: at(1060 + offset),
      activityTaskCompletedEventAttributes: { scheduledEventId: 9 },
    }),
  ];
}

function fakeClient(histories: Record<string, HistoryEvent[]>): Client {
  return {
    workflow: { getHandle: (id: string) => ({ fetchHistory: async () => ({ events: histories[id] }) }) },
  } as unknown as Client;
}

describe("B1's timeline of a merge, from milestones on one clock", () => {
  it('splits send → gone into the API, the workflow task, the host queue and the engine calls', async () => {
    const client = fakeClient({ a: history(0), b: history(10), c: history(20) });
    const samples = ['a', 'b', 'c'].map((workflowId, k) => ({
      workflowId,
      sentMs: 950,
      answeredMs: 990,
      goneMs: 1050 + 10 * k,
    }));
    const legs = await mergeTimeline(client, samples, {
      signalName: 'merged',
      activityName: 'retireSnapshotImage',
    });
    const median = Object.fromEntries(legs.map((l) => [l.step, l.medianMs]));
    expect(median).toEqual({
      'webhook sent → first merge signal in the history (API: lookup + signal)': 50,
      'webhook sent → 202 answer': 40,
      'signal → workflow task started (task queue wait)': 20,
      'workflow task started → completed (worker)': 20,
      'workflow task completed → activity started (host queue wait)': 5,
      'activity started → image `delete` event (engine calls)': 15,
      'image `delete` event → activity completed': 10,
      'webhook sent → image `delete` event': 110,
    });
    expect(legs.every((l) => l.n === 3)).toBe(true);
  });

  it('leaves out the legs of a history without the signal', async () => {
    const client = fakeClient({ a: history(0).filter((e) => Number(e.eventId) !== 5) });
    const legs = await mergeTimeline(client, [{ workflowId: 'a', sentMs: 0, answeredMs: 40, goneMs: 100 }], {
      signalName: 'merged',
      activityName: 'retireSnapshotImage',
    });
    expect(legs.map((l) => l.step)).toEqual([
      'webhook sent → 202 answer',
      'webhook sent → image `delete` event',
    ]);
  });
});
