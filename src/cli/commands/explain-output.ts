// What `snapkeeper explain` prints: a short block like `show` (the image, then why), or the whole
// explanation as JSON for scripts.
import type { Explanation } from '../../service/explain-image.js';
import { formatBytes, formatRelative, shortImageId } from '../format.js';
import type { OutputStream } from '../runtime.js';
import { renderFields } from '../table.js';
import { writeJson } from '../write-json.js';

export function printExplanation(stdout: OutputStream, e: Explanation, json: boolean | undefined): void {
  if (json) {
    writeJson(stdout, e);
    return;
  }
  const fields: Array<[string, string]> = [
    ['image id', e.image.id],
    ['tags', e.image.tags.length > 0 ? e.image.tags.join(', ') : 'none'],
    ['created', `${e.image.createdAt} (${formatRelative(e.image.createdAt)})`],
    ['size', formatBytes(e.image.sizeBytes)],
  ];
  if (e.owner) fields.push(['workflow', `${e.owner.workflowId} (${e.owner.closeStatus ?? e.owner.status})`]);
  if (e.lease)
    fields.push([
      'lease',
      `${e.lease.leaseId} (${e.lease.state}, ${e.lease.protects ? 'protects it' : 'protects nothing'})`,
    ]);
  if (e.reaping?.runAt) fields.push(['reaped at', `${e.reaping.runAt} (${formatRelative(e.reaping.runAt)})`]);
  const block = renderFields(fields)
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`);
  const out = [
    `${e.image.ref}  ${shortImageId(e.image.id)}  host ${e.host.id}: ${e.verdict}`,
    ...block,
    'why:',
    ...e.reasons.map((r) => `  - ${r}`),
  ];
  stdout.write(`${out.join('\n')}\n`);
}
