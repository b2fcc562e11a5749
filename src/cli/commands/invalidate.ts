import { setTimeout as sleep } from 'node:timers/promises';
import type { SnapshotWorkflowView } from '../../contract/snapshot-types.js';
import { ExitCode } from '../exit-codes.js';
import { formatDuration } from '../format.js';
import { withProgress } from '../progress.js';
import type { Runtime } from '../runtime.js';
import { writeJson } from '../runtime.js';

export interface InvalidateOptions {
  reason: string;
  wait?: boolean;
  timeoutMs: number;
  json?: boolean;
}

export async function runInvalidate(
  rt: Runtime,
  projectId: string,
  workItemId: string,
  options: InvalidateOptions,
): Promise<number> {
  const service = await rt.service();
  const before = await service.view(projectId, workItemId);
  const target = before?.current;
  if (!target) {
    rt.stderr.write(`no active snapshot for ${projectId}/${workItemId}\n`);
    return ExitCode.notFound;
  }
  // Scoped to the image just read: one registered in between is not ended by this command.
  if (!(await service.invalidate(projectId, workItemId, options.reason, { imageId: target.imageId }))) {
    rt.stderr.write(`no active snapshot for ${projectId}/${workItemId}\n`);
    return ExitCode.notFound;
  }
  const result = {
    projectId,
    workItemId,
    image: target.image,
    imageId: target.imageId,
    host: target.host,
    reason: options.reason,
    status: 'invalidating' as 'invalidating' | 'removed' | 'waiting',
    detail: null as string | null,
  };
  if (!options.json)
    rt.stdout.write(
      `invalidating ${projectId}/${workItemId}: ${target.image} on host ${target.host} (${options.reason})\n`,
    );
  let code: number = ExitCode.ok;
  if (options.wait) {
    const outcome = await withProgress(
      `waiting for ${target.image} to leave host ${target.host}`,
      (progress) =>
        waitRemoved(
          () => service.view(projectId, workItemId),
          target.imageId,
          options.timeoutMs,
          (text) => progress.update(text),
        ),
      rt.stderr,
    );
    result.status = outcome.removed ? 'removed' : 'waiting';
    result.detail = outcome.detail;
    if (!options.json)
      rt.stdout.write(
        outcome.removed
          ? `removed ${target.image} from host ${target.host}\n`
          : `still waiting after ${formatDuration(options.timeoutMs)}: ${outcome.detail}\n`,
      );
    if (!outcome.removed) code = ExitCode.problem;
  }
  if (options.json) writeJson(rt.stdout, result);
  return code;
}

async function waitRemoved(
  view: () => Promise<SnapshotWorkflowView | null>,
  imageId: string,
  timeoutMs: number,
  onState: (text: string) => void,
): Promise<{ removed: boolean; detail: string | null }> {
  const deadline = Date.now() + timeoutMs;
  let detail: string | null = null;
  for (;;) {
    const v = await view().catch(() => undefined);
    if (v !== undefined) {
      const held = [...(v?.current ? [v.current] : []), ...(v?.retiring ?? [])].find(
        (s) => s.imageId === imageId,
      );
      if (!held) {
        // Ended without a removal: refused (unmanaged), or kept by a reference snapkeeper does not own.
        const last = v?.last;
        if (last && last.imageId === imageId && last.state !== 'removed')
          return { removed: false, detail: `${last.state}${last.message ? `: ${last.message}` : ''}` };
        return { removed: true, detail: null };
      }
      detail = `${held.state}${held.blockedBy ? `: ${held.blockedBy}` : ''}`;
      onState(`waiting for ${held.image} to leave host ${held.host}: ${detail}`);
    }
    if (Date.now() + 500 > deadline) return { removed: false, detail };
    await sleep(500);
  }
}
