// Who polls a task queue: the only way to see from a client whether a worker (the workflow worker,
// or the Docker worker of a host) is running. The server remembers a poller for a few minutes after
// its last poll, so a worker that just stopped still shows, with an old lastAccessTime.
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

// CommonJS package: under Node's ESM loader its namespaces exist only on the default export.
const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

export interface Poller {
  identity: string;
  /** ISO time of its last poll; null when the server did not say. */
  lastAccessTime: string | null;
}

export type TaskQueueRole = 'workflow' | 'activity';

/** A long poll lasts up to about a minute; a poller silent for longer than this is gone. */
export const POLLER_FRESH_MS = 90_000;

export async function describePollers(
  client: Pick<Client, 'workflowService' | 'options'>,
  taskQueue: string,
  role: TaskQueueRole,
): Promise<Poller[]> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType:
      role === 'workflow' ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (response.pollers ?? []).map((p) => ({
    identity: p.identity ?? '',
    lastAccessTime: timestampToIso(p.lastAccessTime),
  }));
}

/** Pollers seen within POLLER_FRESH_MS of `now`. */
export function livePollers(pollers: Poller[], now: number = Date.now()): Poller[] {
  return pollers.filter(
    (p) => p.lastAccessTime !== null && now - Date.parse(p.lastAccessTime) <= POLLER_FRESH_MS,
  );
}

function timestampToIso(
  ts: { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined,
): string | null {
  if (!ts || ts.seconds === null || ts.seconds === undefined) return null;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : ts.seconds.toNumber();
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}
