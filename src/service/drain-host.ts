// Retiring a Docker host for good. Two ways, chosen by the operator:
// - remove (default): while the host's Docker worker still runs, every active snapshot on the host
//   is invalidated, and the drain waits until their workflows have removed the images and ended;
// - forget: the host is gone (disk wiped, machine returned), nothing could remove its images, so
//   the host's open snapshot workflows are terminated without waiting for their cleanup.
// Either way the host's reconcile schedule and budget entity are removed once its snapshots are.
// Visibility only says where to look (it trails the workflows): each workflow is asked what it
// holds right before it is acted on, the invalidation names that image, a termination is bound to
// the run read, and a snapshot that holds its image on another host by then is left alone.
import type { Client } from '@temporalio/client';
import { ScheduleNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { HOST_ID_PATTERN } from '../contract/limits.js';
import { budgetWorkflowId, dockerTaskQueue, reconcileScheduleId } from '../contract/names.js';
import type { SnapshotSummary } from '../contract/snapshot-types.js';
import { readCurrentImage } from './current-image.js';
import { listSnapshots } from './list-snapshots.js';
import type { SnapshotService } from './snapshot-service.js';
import { describePollers, livePollers } from './task-queue-pollers.js';

export type DrainMode = 'remove' | 'forget';

export interface DrainHostOptions {
  hostId: string;
  mode: DrainMode;
  /** How long to wait for the snapshots to leave (remove mode). */
  timeoutMs: number;
  pollIntervalMs?: number;
  /** Called after each look at the host: what is still open there. */
  onProgress?: (remaining: SnapshotSummary[]) => void;
}

export interface DrainHostResult {
  hostId: string;
  mode: DrainMode;
  /**
   * Work items told to end (remove mode) or whose workflow was terminated (forget mode), with the
   * image each was told to end (null: a forgotten workflow that held no current image).
   */
  ended: Array<{ projectId: string; workItemId: string; workflowId: string; imageId: string | null }>;
  /** Listed on the host by visibility, but holding an image on another host when asked: untouched. */
  skipped: Array<{ workflowId: string; imageId: string; host: string }>;
  /** Snapshot workflows still open on the host when the drain stopped waiting. */
  remaining: SnapshotSummary[];
  scheduleDeleted: boolean;
  budgetEnded: boolean;
  /** True when no snapshot workflow of the host is open any more. */
  complete: boolean;
}

/** The host cannot be drained as asked (no Docker worker to remove the images). */
export class DrainRefused extends Error {
  override name = 'DrainRefused';
}

export interface DrainDeps {
  client: Client;
  service: Pick<SnapshotService, 'invalidate'>;
}

const PAGE = 200;

async function openOnHost(client: Client, hostId: string): Promise<SnapshotSummary[]> {
  const all: SnapshotSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await listSnapshots(client, { host: hostId, pageSize: PAGE, ...(cursor ? { cursor } : {}) });
    all.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return all;
}

export async function drainHost(deps: DrainDeps, options: DrainHostOptions): Promise<DrainHostResult> {
  const { client, service } = deps;
  const { hostId, mode } = options;
  if (!HOST_ID_PATTERN.test(hostId)) throw new RangeError(`${JSON.stringify(hostId)} is not a host id`);
  const reason = `host ${hostId} drained`;
  const ended = new Map<string, DrainHostResult['ended'][number]>();
  const skipped = new Map<string, DrainHostResult['skipped'][number]>();
  const note = (s: SnapshotSummary, imageId: string | null) =>
    ended.set(s.workflowId, {
      projectId: s.projectId,
      workItemId: s.workItemId,
      workflowId: s.workflowId,
      imageId,
    });

  if (mode === 'remove') {
    const live = livePollers(await describePollers(client, dockerTaskQueue(hostId), 'activity'));
    if (live.length === 0) {
      throw new DrainRefused(
        `no Docker worker polls ${dockerTaskQueue(hostId)}: start the host's worker so it can remove the images, ` +
          'or, if the host is gone for good, drain it with --forget',
      );
    }
  }

  const deadline = Date.now() + options.timeoutMs;
  const interval = options.pollIntervalMs ?? 1000;
  let remaining: SnapshotSummary[];
  for (;;) {
    remaining = await openOnHost(client, hostId);
    for (const s of remaining) {
      // Read right before acting: a registration since the listing may hold an image elsewhere.
      const seen = await readCurrentImage(client, s.workflowId);
      if (!seen) continue;
      const current = seen.current;
      if (current && current.host !== hostId) {
        skipped.set(s.workflowId, { workflowId: s.workflowId, imageId: current.imageId, host: current.host });
        continue;
      }
      skipped.delete(s.workflowId);
      if (mode === 'forget') {
        // Bound to the run just read (no later run is ended); what it held is what it was read holding.
        await client.workflow
          .getHandle(s.workflowId, seen.runId)
          .terminate(`${reason} (--forget: the host is gone, its images are not removed)`)
          .catch((err: unknown) => {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          });
        note(s, current?.imageId ?? null);
      } else if (current?.state === 'active') {
        // Repeated on every look: a registration that reached the host during the drain ends too.
        // Scoped to the image read: the workflow ignores it if another image is current by then.
        const scope = { imageId: current.imageId };
        if (await service.invalidate(s.projectId, s.workItemId, reason, scope)) note(s, current.imageId);
      }
    }
    if (mode === 'forget') remaining = await openOnHost(client, hostId);
    options.onProgress?.(remaining);
    if (remaining.length === 0 || Date.now() + interval > deadline) break;
    await sleep(interval);
  }

  const complete = remaining.length === 0;
  let scheduleDeleted = false;
  let budgetEnded = false;
  if (complete) {
    try {
      await client.schedule.getHandle(reconcileScheduleId(hostId)).delete();
      scheduleDeleted = true;
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
    try {
      await client.workflow.getHandle(budgetWorkflowId(hostId)).terminate(reason);
      budgetEnded = true;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return {
    hostId,
    mode,
    ended: [...ended.values()],
    skipped: [...skipped.values()],
    remaining,
    scheduleDeleted,
    budgetEnded,
    complete,
  };
}
