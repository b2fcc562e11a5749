// Who holds which image: the open snapshot workflows of a host (visibility, which lags), and each
// one's own answer (a query, which does not). The reconciler and the budget both count on these.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { HOST_ID_PATTERN } from '../contract/limits.js';
import { stateQuery } from '../contract/messages.js';
import type { SnapshotOwnerView } from '../contract/reconcile-types.js';
import type { SnapshotWorkflowView } from '../contract/snapshot-types.js';
import { RUNNING, attributeEquals, snapshotWorkflowsQuery } from './visibility.js';

/** The running snapshot workflows, of one host when named (as visibility last saw their image). */
export function openSnapshotsQuery(host?: string): string {
  if (host === undefined) return snapshotWorkflowsQuery(RUNNING);
  if (!HOST_ID_PATTERN.test(host)) throw new Error(`invalid host id ${JSON.stringify(host)}`);
  return snapshotWorkflowsQuery(RUNNING, attributeEquals('host', host));
}

/** Asks one snapshot workflow which images it holds: only a running one holds any. */
export async function describeSnapshotOwner(client: Client, workflowId: string): Promise<SnapshotOwnerView> {
  const empty = { workflowId, images: [], current: null, error: null };
  try {
    const handle = client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    // A closed run still answers queries by replay (a terminated one with the image it held
    // then): only the status tells whether anyone still owns anything.
    if (description.status.name !== 'RUNNING') return { ...empty, status: 'closed' };
    const view: SnapshotWorkflowView = await handle.query(stateQuery);
    const images: SnapshotOwnerView['images'] = [];
    if (view.current) {
      images.push({
        imageId: view.current.imageId,
        image: view.current.image,
        host: view.current.host,
        role: 'current',
      });
    }
    for (const r of view.retiring)
      images.push({ imageId: r.imageId, image: r.image, host: r.host, role: 'retiring' });
    const c = view.current;
    return {
      ...empty,
      status: 'running',
      images,
      current: c
        ? {
            imageId: c.imageId,
            image: c.image,
            host: c.host,
            projectId: c.projectId,
            sizeBytes: c.sizeBytes,
            createdAt: c.createdAt,
            lastUsedAt: c.lastUsedAt,
          }
        : null,
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { ...empty, status: 'not-found' };
    return { ...empty, status: 'error', error: err instanceof Error ? err.message : String(err) };
  }
}
