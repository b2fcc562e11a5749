// Where a merge's time goes, as milestones on one clock: the bench's send time and the engine's
// `delete` event, and between them the server's timestamps in the snapshot workflow's history.
// Consecutive-event gaps mislead here: an activity's STARTED event is
// written with its completion, so history order is not time order.
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { summarize } from './stats.js';

// A CommonJS module: its namespace is the default export under Node's ESM loader.
const { temporal } = proto;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

export interface MergeSample {
  workflowId: string;
  /** When the bench sent the webhook (wall clock, ms). */
  sentMs: number;
  /** When the API answered it. */
  answeredMs: number;
  /** The engine's timestamp of the image's `delete` event. */
  goneMs: number;
}

export interface TimelineStep {
  step: string;
  medianMs: number;
  p99Ms: number;
  n: number;
}

function ms(event: HistoryEvent | undefined): number {
  const t = event?.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : Number.NaN;
}

/** The milestones of one merged workflow's history, NaN where a milestone is missing. */
export function milestonesOf(events: readonly HistoryEvent[], signalName: string, activityName: string) {
  const signalAt = events.findIndex(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED &&
      e.workflowExecutionSignaledEventAttributes?.signalName === signalName,
  );
  const after = signalAt < 0 ? [] : events.slice(signalAt);
  const first = (type: number) => after.find((e) => e.eventType === type);
  const scheduled = after.find(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
      e.activityTaskScheduledEventAttributes?.activityType?.name === activityName,
  );
  const ofActivity = (type: number) =>
    after.find(
      (e) =>
        e.eventType === type &&
        String(
          e.activityTaskStartedEventAttributes?.scheduledEventId ??
            e.activityTaskCompletedEventAttributes?.scheduledEventId,
        ) === String(scheduled?.eventId),
    );
  return {
    signalled: ms(after[0]),
    taskStarted: ms(first(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)),
    taskCompleted: ms(first(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)),
    activityScheduled: ms(scheduled),
    activityStarted: ms(ofActivity(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)),
    activityCompleted: ms(ofActivity(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)),
  };
}

/** Median and p99 of each leg, across the sampled merges. */
export async function mergeTimeline(
  client: Client,
  samples: readonly MergeSample[],
  options: { signalName: string; activityName: string },
): Promise<TimelineStep[]> {
  const legs = new Map<string, number[]>();
  const add = (step: string, value: number) => {
    if (!Number.isFinite(value)) return;
    if (!legs.has(step)) legs.set(step, []);
    legs.get(step)!.push(value);
  };
  for (const s of samples) {
    const history = await client.workflow.getHandle(s.workflowId).fetchHistory();
    const m = milestonesOf(history.events ?? [], options.signalName, options.activityName);
    add('webhook sent → first merge signal in the history (API: lookup + signal)', m.signalled - s.sentMs);
    add('webhook sent → 202 answer', s.answeredMs - s.sentMs);
    add('signal → workflow task started (task queue wait)', m.taskStarted - m.signalled);
    add('workflow task started → completed (worker)', m.taskCompleted - m.taskStarted);
    add('workflow task completed → activity started (host queue wait)', m.activityStarted - m.taskCompleted);
    add('activity started → image `delete` event (engine calls)', s.goneMs - m.activityStarted);
    add('image `delete` event → activity completed', m.activityCompleted - s.goneMs);
    add('webhook sent → image `delete` event', s.goneMs - s.sentMs);
  }
  return [...legs.entries()].map(([step, values]) => {
    const sum = summarize(values);
    return {
      step,
      medianMs: Number(sum.median.toFixed(1)),
      p99Ms: Number(sum.p99.toFixed(1)),
      n: sum.n,
    };
  });
}
