import { WorkflowNotFoundError } from '@temporalio/client';
import type { SnapshotWorkflowView } from '../../contract/snapshot-types.js';
import { ExitCode } from '../exit-codes.js';
import type { Runtime } from '../runtime.js';
import { printNoWorkflow, printShow } from '../show-output.js';

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
    printNoWorkflow(rt.stderr, projectId, workItemId, handle.workflowId);
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
  printShow(
    rt.stdout,
    { projectId, workItemId, workflowId: handle.workflowId, status, view, queryError },
    options.json,
  );
  return ExitCode.ok;
}
