import { describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { billableActionNames, tallyOf } from '../../bench/b7-history-cost.js';

const T = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Plain numbers where the generated types want Long: the code under test reads them with String(). */
const ev = (fields: Record<string, unknown>) => fields as HistoryEvent;
const json = (v: unknown) => ({ data: Buffer.from(JSON.stringify(v)) });

/** A short snapshot lifecycle as a history shows it: every billable kind once, an activity retried. */
const lifecycle: HistoryEvent[] = [
  ev({
    eventId: 1,
    eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
    workflowExecutionStartedEventAttributes: { workflowType: { name: 'snapshotWorkflow' } },
  }),
  ev({ eventId: 2, eventType: T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED }),
  ev({
    eventId: 3,
    eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    workflowExecutionUpdateAcceptedEventAttributes: { acceptedRequest: { input: { name: 'register' } } },
  }),
  ev({
    eventId: 4,
    eventType: T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    activityTaskScheduledEventAttributes: { activityType: { name: 'retireSnapshotImage' } },
  }),
  ev({
    eventId: 5,
    eventType: T.EVENT_TYPE_ACTIVITY_TASK_STARTED,
    activityTaskStartedEventAttributes: { scheduledEventId: 4, attempt: 3 },
  }),
  ev({
    eventId: 6,
    eventType: T.EVENT_TYPE_TIMER_STARTED,
    timerStartedEventAttributes: { startToFireTimeout: { seconds: 29, nanos: 600_000_000 } },
  }),
  ev({
    eventId: 7,
    eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    workflowExecutionSignaledEventAttributes: { signalName: 'used' },
  }),
  ev({
    eventId: 8,
    eventType: T.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    upsertWorkflowSearchAttributesEventAttributes: {
      searchAttributes: { indexedFields: { SnapshotState: json('removed'), SnapshotImage: json('x:1') } },
    },
  }),
  ev({
    eventId: 9,
    eventType: T.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    upsertWorkflowSearchAttributesEventAttributes: {
      searchAttributes: { indexedFields: { TemporalChangeVersion: json(['one-hop-cleanup']) } },
    },
  }),
  ev({
    eventId: 10,
    eventType: T.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
    workflowPropertiesModifiedEventAttributes: { upsertedMemo: { fields: { current: json(null) } } },
  }),
  ev({
    eventId: 11,
    eventType: T.EVENT_TYPE_MARKER_RECORDED,
    markerRecordedEventAttributes: { markerName: 'core_patch' },
  }),
  ev({ eventId: 12, eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED }),
];

describe("B7's billable actions by name", () => {
  it('names every billable action once per action, and as many as the tally counts', () => {
    const names = billableActionNames(lifecycle);
    expect(names).toEqual([
      'start snapshotWorkflow',
      'update register',
      'activity retireSnapshotImage',
      'activity retry retireSnapshotImage',
      'activity retry retireSnapshotImage',
      'timer 30 s',
      'signal used',
      'search attributes SnapshotImage, SnapshotState=removed',
      'search attributes TemporalChangeVersion (beside a patch marker)',
      'memo current',
    ]);
    expect(names).toHaveLength(tallyOf(lifecycle).actions);
  });

  it('names only the events kept, but still finds a retried activity scheduled before the window', () => {
    const names = billableActionNames(lifecycle, (e) => Number(e.eventId) === 5);
    expect(names).toEqual(['activity retry retireSnapshotImage', 'activity retry retireSnapshotImage']);
  });

  it('tells a continue-as-new start from a client start', () => {
    const names = billableActionNames([
      ev({
        eventId: 1,
        eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        workflowExecutionStartedEventAttributes: {
          workflowType: { name: 'budgetWorkflow' },
          continuedExecutionRunId: 'r1',
        },
      }),
    ]);
    expect(names).toEqual(['start budgetWorkflow (continue-as-new)']);
  });
});
