import type { SnapshotSummary } from '../../contract/snapshot-types.js';
import type { DrainMode } from '../../service/drain-host.js';
import { DrainRefused, drainHost } from '../../service/drain-host.js';
import { ExitCode } from '../exit-codes.js';
import { withProgress } from '../progress.js';
import type { Runtime } from '../runtime.js';
import { writeJson } from '../runtime.js';
import { renderTable } from '../table.js';

export interface DrainHostCommandOptions {
  forget?: boolean;
  timeoutMs: number;
  json?: boolean;
}

export async function runDrainHost(
  rt: Runtime,
  hostId: string,
  options: DrainHostCommandOptions,
): Promise<number> {
  const { client } = await rt.session();
  const service = await rt.service();
  const mode: DrainMode = options.forget ? 'forget' : 'remove';
  let result;
  try {
    result = await withProgress(
      `draining host ${hostId}`,
      (progress) =>
        drainHost(
          { client, service },
          {
            hostId,
            mode,
            timeoutMs: options.timeoutMs,
            onProgress: (remaining) =>
              progress.update(`draining host ${hostId}: ${remaining.length} snapshot(s) left`),
          },
        ),
      rt.stderr,
    );
  } catch (err) {
    if (!(err instanceof DrainRefused)) throw err;
    rt.stderr.write(`drain-host ${hostId}: ${err.message}\n`);
    return ExitCode.problem;
  }
  if (options.json) {
    writeJson(rt.stdout, result);
  } else {
    const verb = mode === 'forget' ? 'terminated (images left on the host)' : 'ended, images removed';
    rt.stdout.write(`host ${hostId}: ${result.ended.length} snapshot(s) ${verb}\n`);
    for (const s of result.skipped) {
      rt.stdout.write(
        `${s.workflowId}: left alone, it holds ${s.imageId.slice(0, 19)} on host ${s.host} now\n`,
      );
    }
    if (result.complete) {
      rt.stdout.write(
        `reconcile schedule ${result.scheduleDeleted ? 'deleted' : 'absent'}, budget entity ${result.budgetEnded ? 'ended' : 'absent'}\n` +
          `host ${hostId} is drained: stop its Docker worker for good (a restarted worker would recreate its schedule)\n`,
      );
    } else {
      rt.stdout.write(`still open on host ${hostId} after the timeout:\n`);
      rt.stdout.write(
        renderTable<SnapshotSummary>(
          [
            { header: 'PROJECT', value: (s) => s.projectId },
            { header: 'WORK ITEM', value: (s) => s.workItemId },
            { header: 'STATE', value: (s) => s.state },
            { header: 'IMAGE', value: (s) => s.image },
          ],
          result.remaining,
        ),
      );
      rt.stdout.write(
        'removal-blocked snapshots wait for the containers using their images; run drain-host again once they are gone\n',
      );
    }
  }
  return result.complete ? ExitCode.ok : ExitCode.problem;
}
