// Where the time of a workflow's reaction goes, read from its own history: the server's timestamps
// of each event from a signal on, as median gaps between consecutive events across a sample of
// workflows ("WORKFLOW_TASK_COMPLETED → ACTIVITY_TASK_SCHEDULED retireSnapshotImage: 3 ms").
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { summarize } from './stats.js';

// A CommonJS module: its namespace is the default export under Node's ESM loader.
const { temporal } = proto;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

function ms(event: HistoryEvent): number {
  const t = event.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : Number.NaN;
}

function nameOf(event: HistoryEvent, activities: Map<string, string>): string {
  const type = temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? String(event.eventType);
  const short = type.replace(/^EVENT_TYPE_/, '');
  const scheduled = event.activityTaskScheduledEventAttributes;
  if (scheduled) {
    const name = scheduled.activityType?.name ?? '?';
    activities.set(String(event.eventId), name);
    return `${short} ${name}`;
  }
  const ref =
    event.activityTaskStartedEventAttributes?.scheduledEventId ??
    event.activityTaskCompletedEventAttributes?.scheduledEventId ??
    event.activityTaskFailedEventAttributes?.scheduledEventId;
  if (ref !== undefined && ref !== null) return `${short} ${activities.get(String(ref)) ?? '?'}`;
  const signal = event.workflowExecutionSignaledEventAttributes?.signalName;
  return signal ? `${short} ${signal}` : short;
}

/**
 * Median gap per step (label: "previous event → event") from the first `signalName` signal to the
 * end of each history, over the sampled workflows; the steps in the order the first history has
 * them.
 */
export async function historyBreakdown(
  client: Client,
  workflowIds: readonly string[],
  signalName: string,
): Promise<Array<{ step: string; medianMs: number; n: number }>> {
  const gaps = new Map<string, number[]>();
  const order: string[] = [];
  for (const id of workflowIds) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    const events = history.events ?? [];
    const activities = new Map<string, string>();
    const names = events.map((e) => nameOf(e, activities));
    const from = names.findIndex((n) => n === `WORKFLOW_EXECUTION_SIGNALED ${signalName}`);
    if (from < 0) continue;
    for (let i = from + 1; i < events.length; i++) {
      const step = `${names[i - 1]} → ${names[i]}`;
      if (!gaps.has(step)) {
        gaps.set(step, []);
        order.push(step);
      }
      gaps.get(step)!.push(ms(events[i]!) - ms(events[i - 1]!));
    }
  }
  return order.map((step) => {
    const s = summarize(gaps.get(step)!);
    return { step, medianMs: Number(s.median.toFixed(1)), n: s.n };
  });
}
