import type { SnapshotStatus, SnapshotSummary } from '../../contract/snapshot-types.js';
import { MAX_PAGE_SIZE, listSnapshots } from '../../service/list-snapshots.js';
import { ExitCode } from '../exit-codes.js';
import { printSnapshots } from '../ls-output.js';
import { withProgress } from '../progress.js';
import type { Runtime } from '../runtime.js';

export interface LsOptions {
  project?: string;
  state?: SnapshotStatus;
  host?: string;
  limit: number;
  json?: boolean;
}

export async function runLs(rt: Runtime, options: LsOptions): Promise<number> {
  const { client } = await rt.session();
  const items: SnapshotSummary[] = [];
  let truncated = false;
  await withProgress(
    'listing snapshots',
    async (progress) => {
      let cursor: string | undefined;
      do {
        const page = await listSnapshots(client, {
          ...(options.project ? { projectId: options.project } : {}),
          ...(options.state ? { state: options.state } : {}),
          ...(options.host ? { host: options.host } : {}),
          pageSize: Math.min(MAX_PAGE_SIZE, options.limit - items.length),
          ...(cursor ? { cursor } : {}),
        });
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
        progress.update(`listing snapshots: ${items.length}`);
        if (cursor && items.length >= options.limit) {
          truncated = true;
          break;
        }
      } while (cursor);
    },
    rt.stderr,
  );
  printSnapshots(rt, items, { ...(options.json ? { json: true } : {}), truncated });
  return ExitCode.ok;
}
