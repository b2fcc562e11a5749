import { WorkflowNotFoundError } from '@temporalio/client';
import type { SnapshotWorkflowView } from '../../contract/snapshot-types.js';
import { ExitCode } from '../exit-codes.js';
import type { Runtime } from '../runtime.js';
import { writeJson } from '../runtime.js';
import { snapshotFields } from '../snapshot-fields.js';

export interface ShowOptions {
  json?: boolean;
}

export async function runShow(
  rt: Runtime,
  projectId: string,
  workItemId: string,
  options: ShowOptions,
): Promise<number> {
  const service = await rt.service();
  const handle = service.handle(projectId, workItemId);
  let status: string;
  try {
    status = (await handle.describe()).status.name.toLowerCase();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    rt.stderr.write(`no snapshot workflow for ${projectId}/${workItemId} (${handle.workflowId})\n`);
    return ExitCode.notFound;
  }
  let view: SnapshotWorkflowView | null = null;
  let queryError: string | null = null;
  try {
    view = await service.view(projectId, workItemId);
  } catch (err) {
    // A closed workflow answers queries only while a worker can replay it; say so, do not fail.
    queryError = err instanceof Error ? err.message : String(err);
  }
  if (options.json) {
    writeJson(rt.stdout, {
      projectId,
      workItemId,
      workflowId: handle.workflowId,
      workflowStatus: status,
      current: view?.current ?? null,
      retiring: view?.retiring ?? [],
      last: view?.last ?? null,
      ...(queryError ? { queryError } : {}),
    });
    return ExitCode.ok;
  }
  const out: string[] = [`${projectId}/${workItemId}  workflow ${handle.workflowId} (${status})`];
  if (queryError) out.push(`state query failed: ${queryError}`);
  if (view) {
    out.push(view.current ? `current:\n${snapshotFields(view.current)}` : 'current: none');
    for (const r of view.retiring) out.push(`leaving the disk:\n${snapshotFields(r)}`);
    if (!view.current && view.retiring.length === 0 && view.last)
      out.push(`last:\n${snapshotFields(view.last)}`);
  }
  rt.stdout.write(`${out.join('\n')}\n`);
  return ExitCode.ok;
}
