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

/** What starts the reaction: a named signal, or the first timer that fires (a TTL). */
export type Trigger = { signal: string } | 'timer';

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
export function milestonesOf(events: readonly HistoryEvent[], trigger: Trigger, activityName: string) {
  const signalAt = events.findIndex((e) =>
    trigger === 'timer'
      ? e.eventType === EventType.EVENT_TYPE_TIMER_FIRED
      : e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED &&
        e.workflowExecutionSignaledEventAttributes?.signalName === trigger.signal,
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
  const legs = new Legs();
  for (const s of samples) {
    const history = await client.workflow.getHandle(s.workflowId).fetchHistory();
    const m = milestonesOf(history.events ?? [], { signal: options.signalName }, options.activityName);
    legs.add(
      'webhook sent → first merge signal in the history (API: lookup + signal)',
      m.signalled - s.sentMs,
    );
    legs.add('webhook sent → 202 answer', s.answeredMs - s.sentMs);
    addWorkflowLegs(legs, m, s.goneMs, 'signal');
    legs.add('webhook sent → image `delete` event', s.goneMs - s.sentMs);
  }
  return legs.summary();
}

/** A raw client signal to one of B1's floor workflows (same fields: sent, answered, gone). */
export type FloorSample = MergeSample;

/** The legs of B1's floor, from the raw signal's send; a local activity has no activity legs. */
export async function floorTimeline(
  client: Client,
  samples: readonly FloorSample[],
  options: { label: string; signalName: string; activityName: string },
): Promise<TimelineStep[]> {
  const legs = new Legs();
  for (const s of samples) {
    const history = await client.workflow.getHandle(s.workflowId).fetchHistory();
    const m = milestonesOf(history.events ?? [], { signal: options.signalName }, options.activityName);
    legs.add('signal sent → signal in the history', m.signalled - s.sentMs);
    addWorkflowLegs(legs, m, s.goneMs, 'signal');
    legs.add('signal sent → image `delete` event', s.goneMs - s.sentMs);
  }
  return legs.summary().map((t) => ({ ...t, step: `${options.label}: ${t.step}` }));
}

export interface ExpirySample {
  workflowId: string;
  /** The expiresAt the registration answered. */
  expiresMs: number;
  goneMs: number;
}

/** The same legs for TTL expiries, from the expiresAt the registration answered. */
export async function expiryTimeline(
  client: Client,
  samples: readonly ExpirySample[],
  options: { activityName: string },
): Promise<TimelineStep[]> {
  const legs = new Legs();
  for (const s of samples) {
    const history = await client.workflow.getHandle(s.workflowId).fetchHistory();
    const m = milestonesOf(history.events ?? [], 'timer', options.activityName);
    legs.add('expiresAt → TTL timer fired (server)', m.signalled - s.expiresMs);
    addWorkflowLegs(legs, m, s.goneMs, 'timer fired');
    legs.add('expiresAt → image `delete` event', s.goneMs - s.expiresMs);
  }
  return legs.summary();
}

function addWorkflowLegs(legs: Legs, m: ReturnType<typeof milestonesOf>, goneMs: number, from: string): void {
  legs.add(`${from} → workflow task started (task queue wait)`, m.taskStarted - m.signalled);
  legs.add('workflow task started → completed (worker)', m.taskCompleted - m.taskStarted);
  legs.add(
    'workflow task completed → activity started (host queue wait)',
    m.activityStarted - m.taskCompleted,
  );
  legs.add('activity started → image `delete` event (engine calls)', goneMs - m.activityStarted);
  legs.add('image `delete` event → activity completed', m.activityCompleted - goneMs);
}

class Legs {
  private readonly legs = new Map<string, number[]>();

  add(step: string, value: number): void {
    if (!Number.isFinite(value)) return;
    if (!this.legs.has(step)) this.legs.set(step, []);
    this.legs.get(step)!.push(value);
  }

  summary(): TimelineStep[] {
    return [...this.legs.entries()].map(([step, values]) => {
      const sum = summarize(values);
      return { step, medianMs: Number(sum.median.toFixed(1)), p99Ms: Number(sum.p99.toFixed(1)), n: sum.n };
    });
  }
}
