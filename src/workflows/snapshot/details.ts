// What operators read about a snapshot workflow in the Web UI and the CLIs: its current details
// (markdown) and the summaries of its steps, which make the event history read as the snapshot's
// story ("remove sha256:ab12… on build-3", "TTL 24h"). Metadata only: replay ignores them.
import type { RemovalBlock } from '../../activities/docker-activities.js';
import { dockerTaskQueue } from '../../contract/names.js';
import type { SnapshotState, SnapshotStatus } from '../../contract/snapshot-types.js';

export function snapshotDetails(
  state: SnapshotStatus,
  image: SnapshotState,
  retiring: SnapshotState[],
): string {
  const lines = [
    `**${state}** · \`${image.image}\` on host \`${image.host}\``,
    `image id: \`${image.imageId.slice(0, 19)}\` · ${Math.round(image.sizeBytes / 1e6)} MB`,
    `expires: ${image.expiresAt}${image.slidingTtl ? ' (sliding)' : ''} · last used: ${image.lastUsedAt}`,
  ];
  if (image.pullRequest)
    lines.push(`pull request: ${image.pullRequest.repository}#${image.pullRequest.number}`);
  if (image.endReason) lines.push(`ended: ${image.endReason}${image.message ? ` (${image.message})` : ''}`);
  if (image.blockedBy) lines.push(`blocked: ${image.blockedBy}`);
  if (image.freedBytes !== undefined)
    lines.push(
      `freed: ${formatMegabytes(image.freedBytes)}${image.freedBytesMeasure === 'estimated' ? ' (estimated)' : ''}`,
    );
  if (image.keptBy?.length) lines.push(`kept by: ${image.keptBy.map((r) => `\`${r}\``).join(', ')}`);
  if (image.reuseBlockedBy) lines.push(`reuse: ${image.reuseBlockedBy}`);
  if (image.references?.length || image.layerDepth) {
    lines.push(
      `references: ${(image.references ?? []).map((r) => `\`${r}\``).join(', ') || 'none (registered by id)'} · layers: ${image.layerDepth ?? '?'}`,
    );
  }
  if (retiring.length > 0) {
    lines.push(`leaving the disk: ${retiring.map((r) => `${r.image} (${r.state})`).join(', ')}`);
  }
  return lines.join('\n\n');
}

export function shortId(imageId: string): string {
  return imageId.length > 19 ? `${imageId.slice(0, 19)}…` : imageId;
}

export function stepSummary(
  step: 'invalidate' | 'remove' | 'invalidate and remove',
  image: SnapshotState,
): string {
  return `${step} ${shortId(image.imageId)} on ${image.host}`;
}

export function ttlSummary(image: SnapshotState): string {
  return `TTL ${formatSeconds(image.ttlSeconds)} of ${shortId(image.imageId)}`;
}

export function retrySummary(image: SnapshotState, backoffSeconds: number): string {
  return `retry the removal of ${shortId(image.imageId)} in ${backoffSeconds}s`;
}

export function hostWaitMessage(host: string): string {
  return `waiting for host ${host}'s Docker worker (task queue ${dockerTaskQueue(host)}): is it running?`;
}

export function blockText(block: RemovalBlock): string {
  if (block.outcome === 'in-use') {
    return `in use by container(s) ${block.holders.map((h) => h.slice(0, 12)).join(', ')}`;
  }
  return `the engine refused: ${block.reason ?? 'conflict'}`;
}

/** Freed bytes of a small image are often under a megabyte: one decimal keeps them visible. */
function formatMegabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function formatSeconds(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
