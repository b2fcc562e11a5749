// One snapshot image as `key: value` lines, for `show` and `invalidate`.
import type { SnapshotState } from '../contract/snapshot-types.js';
import { formatBytes, formatRelative } from './format.js';
import { renderFields } from './table.js';

export function snapshotFields(s: SnapshotState, indent = '  '): string {
  const fields: Array<[string, string]> = [
    ['state', s.state],
    ['image', s.image],
    ['image id', s.imageId],
    ['host', s.host],
    ['size', formatBytes(s.sizeBytes)],
    ['created', `${s.createdAt} (${formatRelative(s.createdAt)})`],
    ['expires', `${s.expiresAt} (${formatRelative(s.expiresAt)})${s.slidingTtl ? ', sliding' : ''}`],
    ['last used', `${s.lastUsedAt} (${formatRelative(s.lastUsedAt)})`],
  ];
  if (s.pullRequest) fields.push(['pull request', `${s.pullRequest.repository}#${s.pullRequest.number}`]);
  if (s.endReason) fields.push(['ended', s.endReason]);
  if (s.message) fields.push(['message', s.message]);
  if (s.blockedBy) fields.push(['blocked by', s.blockedBy]);
  return renderFields(fields)
    .split('\n')
    .map((line) => (line ? `${indent}${line}` : line))
    .join('\n')
    .trimEnd();
}
