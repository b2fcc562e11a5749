// What a history costs: its events, and the billable actions among them, by kind. Billable follows
// Temporal Cloud's action list (docs.temporal.io/cloud/actions) as far as a history shows it: a
// workflow start (client, continue-as-new, child), a signal, an update, a timer started, an activity
// scheduled (and each retry of it), a search attribute upsert, a memo upsert, and a local activity
// (its marker). A signal is counted once, where it is received (WorkflowExecutionSignaled): every
// workflow B7 counts is in the same count, so counting the sender's SignalExternalWorkflowExecution-
// Initiated as well would count one signal twice. Not in a history, so not counted: queries,
// rejected updates, heartbeats, the schedule's own trigger.
import proto from '@temporalio/proto';

// A CommonJS module: its namespace is the default export under Node's ESM loader.
const { temporal } = proto;
export type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

/** What an event is for, in the words of the cost plan (docs/benchmarks.md, B7). */
export type CostCategory =
  | 'workflow start'
  | 'workflow end'
  | 'workflow task'
  | 'update'
  | 'signal received'
  | 'signal sent'
  | 'timer'
  | 'activity'
  | 'search attribute upsert'
  | 'patch version upsert'
  | 'memo upsert'
  | 'patch marker'
  | 'local activity'
  | 'child workflow'
  | 'other';

export const COST_CATEGORIES: readonly CostCategory[] = [
  'workflow start',
  'update',
  'signal received',
  'timer',
  'activity',
  'search attribute upsert',
  'patch version upsert',
  'memo upsert',
  'local activity',
  'patch marker',
  'workflow task',
  'signal sent',
  'child workflow',
  'workflow end',
  'other',
];

export interface EventCost {
  category: CostCategory;
  /** Billable actions this event stands for (0 for most). */
  actions: number;
}

/** The patch marker of the TypeScript SDK (core's name for `patched()`'s record). */
const PATCH_MARKER = 'core_patch';
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';
const CHANGE_VERSION_ATTRIBUTE = 'TemporalChangeVersion';

export function costOf(event: HistoryEvent): EventCost {
  const t = event.eventType;
  switch (t) {
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
      return { category: 'workflow start', actions: 1 };
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
      return { category: 'workflow end', actions: 0 };
    case EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
    case EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
    case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
    case EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
    case EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
      return { category: 'workflow task', actions: 0 };
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
      return { category: 'update', actions: 1 };
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED:
      return { category: 'update', actions: 0 };
    case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
      return { category: 'signal received', actions: 1 };
    case EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
    case EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
    case EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED:
      return { category: 'signal sent', actions: 0 };
    case EventType.EVENT_TYPE_TIMER_STARTED:
      return { category: 'timer', actions: 1 };
    case EventType.EVENT_TYPE_TIMER_FIRED:
    case EventType.EVENT_TYPE_TIMER_CANCELED:
      return { category: 'timer', actions: 0 };
    case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
      return { category: 'activity', actions: 1 };
    case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
      // A retry is billed again; the history shows it only as the started attempt's number.
      const attempt = event.activityTaskStartedEventAttributes?.attempt ?? 1;
      return { category: 'activity', actions: Math.max(0, attempt - 1) };
    }
    case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
    case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
    case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
    case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
    case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
      return { category: 'activity', actions: 0 };
    case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
      // The SDK upserts TemporalChangeVersion beside every patch marker it records (server 1.20+):
      // an upsert that the workflow's own code never asked for, told apart for the cost plan.
      const keys = Object.keys(
        event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
      );
      const onlyVersion = keys.length > 0 && keys.every((k) => k === CHANGE_VERSION_ATTRIBUTE);
      return { category: onlyVersion ? 'patch version upsert' : 'search attribute upsert', actions: 1 };
    }
    case EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
      return { category: 'memo upsert', actions: 1 };
    case EventType.EVENT_TYPE_MARKER_RECORDED: {
      const name = event.markerRecordedEventAttributes?.markerName;
      if (name === PATCH_MARKER) return { category: 'patch marker', actions: 0 };
      if (name === LOCAL_ACTIVITY_MARKER) return { category: 'local activity', actions: 1 };
      return { category: 'other', actions: 0 };
    }
    case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
    case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
    case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
    case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
    case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
    case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
    case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
    case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
      // The child's own start is counted in the child's history.
      return { category: 'child workflow', actions: 0 };
    default:
      return { category: 'other', actions: 0 };
  }
}

/** Events and actions, in total and per category. */
export interface CostTally {
  events: number;
  actions: number;
  byCategory: Partial<Record<CostCategory, { events: number; actions: number }>>;
}

export function emptyTally(): CostTally {
  return { events: 0, actions: 0, byCategory: {} };
}

export function addEvent(tally: CostTally, event: HistoryEvent): void {
  const { category, actions } = costOf(event);
  tally.events++;
  tally.actions += actions;
  const c = (tally.byCategory[category] ??= { events: 0, actions: 0 });
  c.events++;
  c.actions += actions;
}

export function tallyOf(events: Iterable<HistoryEvent>): CostTally {
  const tally = emptyTally();
  for (const e of events) addEvent(tally, e);
  return tally;
}

export function mergeTallies(into: CostTally, from: CostTally): void {
  into.events += from.events;
  into.actions += from.actions;
  for (const [category, c] of Object.entries(from.byCategory) as Array<
    [CostCategory, { events: number; actions: number }]
  >) {
    const mine = (into.byCategory[category] ??= { events: 0, actions: 0 });
    mine.events += c.events;
    mine.actions += c.actions;
  }
}

/** The tally divided by `n` (per lifecycle), to two decimals. */
export function perLifecycle(tally: CostTally, n: number): CostTally {
  const r = (x: number) => Math.round((x / n) * 100) / 100;
  const byCategory: CostTally['byCategory'] = {};
  for (const [category, c] of Object.entries(tally.byCategory) as Array<
    [CostCategory, { events: number; actions: number }]
  >) {
    byCategory[category] = { events: r(c.events), actions: r(c.actions) };
  }
  return { events: r(tally.events), actions: r(tally.actions), byCategory };
}

/** The server's timestamp of an event, in epoch ms. */
export function eventMs(event: HistoryEvent): number {
  const t = event.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : Number.NaN;
}

/** The name of a signal or update event, for telling lookups' `used` signals apart. */
export function messageName(event: HistoryEvent): string | undefined {
  return (
    event.workflowExecutionSignaledEventAttributes?.signalName ??
    event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ??
    undefined
  );
}

/** A search attribute or memo payload's value when it is a short string (a state, a kind). */
function shortString(payload: { data?: Uint8Array | null } | null | undefined): string | undefined {
  if (!payload?.data) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(payload.data).toString('utf8'));
    return typeof v === 'string' && v.length <= 24 ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Search attributes whose value says what an upsert is for (the others are named by key only). */
const VALUE_NAMED_ATTRIBUTES = new Set(['SnapshotState']);

/**
 * The billable actions of one history, each with a name that says what it is for and is the same
 * for every lifecycle of a kind (so they add up): `activity inspectSnapshotImage`, `signal used`,
 * `timer 30 s`, `search attributes SnapshotState=removed`, `memo current`… A retried activity adds
 * `activity retry <name>` per extra attempt. `TemporalChangeVersion` upserts are named apart.
 */
export function billableActionNames(
  events: Iterable<HistoryEvent>,
  keep: (e: HistoryEvent) => boolean = () => true,
): string[] {
  const names: string[] = [];
  const activityNames = new Map<string, string>();
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) activityNames.set(String(e.eventId), scheduled.activityType?.name ?? '?');
    if (!keep(e)) continue;
    const { category, actions } = costOf(e);
    if (actions === 0) continue;
    names.push(...Array.from({ length: actions }, () => nameOf(e, category, activityNames)));
  }
  return names;
}

function nameOf(e: HistoryEvent, category: CostCategory, activityNames: Map<string, string>): string {
  const started = e.workflowExecutionStartedEventAttributes;
  if (started) {
    const how = started.continuedExecutionRunId
      ? ' (continue-as-new)'
      : started.parentWorkflowExecution
        ? ' (child)'
        : '';
    return `start ${started.workflowType?.name ?? '?'}${how}`;
  }
  if (category === 'update' || category === 'signal received')
    return `${category === 'update' ? 'update' : 'signal'} ${messageName(e) ?? '?'}`;
  const timer = e.timerStartedEventAttributes;
  if (timer) {
    const s = Number(timer.startToFireTimeout?.seconds ?? 0) + (timer.startToFireTimeout?.nanos ?? 0) / 1e9;
    return `timer ${Math.round(s)} s`;
  }
  if (e.activityTaskScheduledEventAttributes)
    return `activity ${e.activityTaskScheduledEventAttributes.activityType?.name ?? '?'}`;
  const startedActivity = e.activityTaskStartedEventAttributes;
  if (startedActivity)
    return `activity retry ${activityNames.get(String(startedActivity.scheduledEventId)) ?? '?'}`;
  if (category === 'patch version upsert')
    return 'search attributes TemporalChangeVersion (beside a patch marker)';
  const upsert = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
  if (upsert) {
    const keys = Object.keys(upsert)
      .sort()
      .map((k) => {
        const v = VALUE_NAMED_ATTRIBUTES.has(k) ? shortString(upsert[k]) : undefined;
        return v === undefined ? k : `${k}=${v}`;
      });
    return `search attributes ${keys.join(', ')}`;
  }
  const memo = e.workflowPropertiesModifiedEventAttributes;
  if (memo)
    return `memo ${
      Object.keys(memo.upsertedMemo?.fields ?? {})
        .sort()
        .join(', ') || '(empty)'
    }`;
  if (category === 'local activity') return 'local activity';
  return category;
}
