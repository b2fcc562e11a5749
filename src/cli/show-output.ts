// What `snapkeeper show` prints, whichever way it read the workflow (the Temporal client or the
// HTTP fast path): one function, so both paths print the same bytes.
import type { SnapshotWorkflowView } from '../contract/snapshot-types.js';
import type { OutputStream } from './runtime.js';
import { snapshotFields } from './snapshot-fields.js';
import { writeJson } from './write-json.js';

export interface ShowResult {
  projectId: string;
  workItemId: string;
  workflowId: string;
  /** Temporal's execution status, lower case (running, completed, ...). */
  status: string;
  view: SnapshotWorkflowView | null;
  queryError: string | null;
}

export function printNoWorkflow(
  stderr: OutputStream,
  projectId: string,
  workItemId: string,
  workflowId: string,
): void {
  stderr.write(`no snapshot workflow for ${projectId}/${workItemId} (${workflowId})\n`);
}

export function printShow(stdout: OutputStream, r: ShowResult, json: boolean | undefined): void {
  const { projectId, workItemId, workflowId, status, view, queryError } = r;
  if (json) {
    writeJson(stdout, {
      projectId,
      workItemId,
      workflowId,
      workflowStatus: status,
      current: view?.current ?? null,
      retiring: view?.retiring ?? [],
      last: view?.last ?? null,
      ...(queryError ? { queryError } : {}),
    });
    return;
  }
  const out: string[] = [`${projectId}/${workItemId}  workflow ${workflowId} (${status})`];
  if (queryError) out.push(`state query failed: ${queryError}`);
  if (view) {
    out.push(view.current ? `current:\n${snapshotFields(view.current)}` : 'current: none');
    for (const x of view.retiring) out.push(`leaving the disk:\n${snapshotFields(x)}`);
    if (!view.current && view.retiring.length === 0 && view.last)
      out.push(`last:\n${snapshotFields(view.last)}`);
  }
  stdout.write(`${out.join('\n')}\n`);
}
