import type { SnapshotStatus, SnapshotSummary } from '../../contract/snapshot-types.js';
import { MAX_PAGE_SIZE, listSnapshots } from '../../service/list-snapshots.js';
import { ExitCode } from '../exit-codes.js';
import { formatBytes, formatRelative } from '../format.js';
import { withProgress } from '../progress.js';
import type { Runtime } from '../runtime.js';
import { writeJson } from '../runtime.js';
import { renderTable } from '../table.js';

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
  if (options.json) {
    writeJson(rt.stdout, items);
  } else if (items.length === 0) {
    rt.stdout.write('no snapshots\n');
  } else {
    rt.stdout.write(
      renderTable(
        [
          { header: 'PROJECT', value: (s) => s.projectId },
          { header: 'WORK ITEM', value: (s) => s.workItemId },
          { header: 'STATE', value: (s) => s.state },
          { header: 'HOST', value: (s) => s.host },
          { header: 'IMAGE', value: (s) => s.image },
          { header: 'SIZE', value: (s) => formatBytes(s.sizeBytes), right: true },
          { header: 'EXPIRES', value: (s) => formatRelative(s.expiresAt) },
          {
            header: 'PULL REQUEST',
            value: (s) => (s.pullRequest ? `${s.pullRequest.repository}#${s.pullRequest.number}` : '-'),
          },
        ],
        items,
      ),
    );
  }
  if (truncated) rt.stderr.write(`showing the first ${items.length}; raise --limit for more\n`);
  return ExitCode.ok;
}
