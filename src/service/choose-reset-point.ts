// Where to reset a workflow whose workflow tasks fail with a nondeterminism error that its own code
// did not cause. Pure: it reads history events and answers an event id, so it is unit-tested on
// the recorded history of the case that made it necessary.
//
// The case (test/fixtures/chaos/): a workflow task times out because its worker was SIGKILLed, the
// next one carries a timer that fired and an update, and the live worker ran them in an order the
// SDK does not reproduce on replay. Every later replay of that run fails at the commands of the
// first task completed after the timeout, so that completion is where the run must start again.
import proto from '@temporalio/proto';

// A CommonJS module: its namespace is the default export under Node's ESM loader.
const { temporal } = proto;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;
const Cause = temporal.api.enums.v1.WorkflowTaskFailedCause;

export type ResetPoint =
  { kind: 'reset'; eventId: number; reason: string } | { kind: 'leave'; reason: string };

const finishTypes = new Set([
  EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
]);

function id(event: HistoryEvent): number {
  return Number(event.eventId ?? 0);
}

function failedCause(event: HistoryEvent): number | null {
  return event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ? (event.workflowTaskFailedEventAttributes?.cause ?? null)
    : null;
}

/**
 * The WORKFLOW_TASK_COMPLETED event to reset to, or why the run is left alone: only a run whose
 * newest workflow task outcome is a nondeterminism failure is reset (any other failure is a bug an
 * operator must see, not something to paper over).
 */
export function chooseResetPoint(events: readonly HistoryEvent[]): ResetPoint {
  const finishes = events.filter((e) => finishTypes.has(e.eventType ?? 0));
  const last = finishes.at(-1);
  if (!last || failedCause(last) !== Cause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR) {
    return { kind: 'leave', reason: 'its newest workflow task did not fail with a nondeterminism error' };
  }
  const before = finishes.slice(0, -1);
  const completions = before.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  const firstCompletion = completions[0];
  if (!firstCompletion) {
    return { kind: 'leave', reason: 'no workflow task of this run ever completed, nothing to reset to' };
  }
  // A run that already comes from a reset and still fails: the targeted point was not enough, so
  // start from its first task, the one point that replays whatever happened later.
  if (before.some((e) => failedCause(e) === Cause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW)) {
    return {
      kind: 'reset',
      eventId: id(firstCompletion),
      reason: 'this run was reset before and still fails: reset to its first workflow task',
    };
  }
  // The latest task that timed out or failed before the nondeterminism, if any task completed after it.
  let interrupted: HistoryEvent | undefined;
  for (const e of before) {
    if (e.eventType !== EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) interrupted = e;
  }
  const afterInterruption = interrupted
    ? completions.find((e) => id(e) > id(interrupted as HistoryEvent))
    : undefined;
  if (afterInterruption) {
    return {
      kind: 'reset',
      eventId: id(afterInterruption),
      reason: `reset to the first workflow task completed after the one interrupted at event ${id(interrupted as HistoryEvent)}`,
    };
  }
  const lastCompletion = completions.at(-1) as HistoryEvent;
  return {
    kind: 'reset',
    eventId: id(lastCompletion),
    reason: 'reset to its last completed workflow task',
  };
}
