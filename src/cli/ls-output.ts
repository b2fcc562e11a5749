// What `snapkeeper ls` prints, whichever way it listed (the Temporal client or the HTTP fast
// path): one function, so both paths print the same bytes.
import type { SnapshotSummary } from '../contract/snapshot-types.js';
import { formatBytes, formatRelative } from './format.js';
import type { OutputStream } from './runtime.js';
import { renderTable } from './table.js';
import { writeJson } from './write-json.js';

export function printSnapshots(
  streams: { stdout: OutputStream; stderr: OutputStream },
  items: SnapshotSummary[],
  options: { json?: boolean; truncated: boolean },
): void {
  const { stdout, stderr } = streams;
  if (options.json) {
    writeJson(stdout, items);
  } else if (items.length === 0) {
    stdout.write('no snapshots\n');
  } else {
    stdout.write(
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
  if (options.truncated) stderr.write(`showing the first ${items.length}; raise --limit for more\n`);
}
