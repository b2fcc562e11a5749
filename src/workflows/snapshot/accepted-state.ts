// The state of an image a registration accepts, from the request and the host's facts. Pure.
import { DEFAULT_MAX_LAYER_DEPTH } from '../../contract/limits.js';
import type { ImageFacts, RegisterRequest, SnapshotState } from '../../contract/snapshot-types.js';
import { plusSeconds } from '../shared/workflow-helpers.js';
import type { WorkItem } from './state.js';

export function acceptedState(
  { projectId, workItemId }: WorkItem,
  req: RegisterRequest,
  facts: ImageFacts,
  now: string,
  ttlSeconds: number,
): SnapshotState {
  return {
    projectId,
    workItemId,
    image: req.image,
    imageId: facts.imageId,
    host: req.host,
    state: 'active',
    createdAt: now,
    expiresAt: plusSeconds(now, ttlSeconds),
    lastUsedAt: now,
    sizeBytes: facts.sizeBytes,
    ttlSeconds,
    slidingTtl: req.slidingTtl ?? false,
    pullRequest: req.pullRequest ?? null,
    endReason: null,
    blockedBy: null,
    message: null,
    references: facts.references,
    layerDepth: facts.layerDepth,
    reuseBlockedBy: chainTooDeep(facts.layerDepth, req.maxLayerDepth ?? DEFAULT_MAX_LAYER_DEPTH),
    keptBy: null,
  };
}

function chainTooDeep(layerDepth: number, maxLayerDepth: number): string | null {
  if (layerDepth < maxLayerDepth) return null;
  return (
    `not offered for reuse: the image has ${layerDepth} layers and snapshots from ${maxLayerDepth} on ` +
    '(SNAPKEEPER_MAX_LAYER_DEPTH) are not, since Docker refuses a commit past 125; ' +
    'start the next job from its base image and register that commit'
  );
}
