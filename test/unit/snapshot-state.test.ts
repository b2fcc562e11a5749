import { describe, expect, it } from 'vitest';
import type { SnapshotState } from '../../src/contract/snapshot-types.js';
import { SnapshotWorkflowState } from '../../src/workflows/snapshot/state.js';

function image(n: number, extra: Partial<SnapshotState> = {}): SnapshotState {
  return {
    projectId: 'p',
    workItemId: 'w',
    image: `snap/p:w-${n}`,
    imageId: `sha256:${String(n).repeat(64).slice(0, 64)}`,
    host: 'h1',
    state: 'active',
    createdAt: '2026-11-28T10:00:00.000Z',
    expiresAt: '2026-11-28T11:00:00.000Z',
    lastUsedAt: '2026-11-28T10:00:00.000Z',
    sizeBytes: 1000,
    ttlSeconds: 3600,
    slidingTtl: false,
    pullRequest: null,
    endReason: null,
    blockedBy: null,
    message: null,
    ...extra,
  };
}

describe('snapshot workflow state', () => {
  it('ends the current image into the retiring ones, and finishes it', () => {
    const state = new SnapshotWorkflowState();
    expect(state.end('expired', 'nothing current')).toBeNull();
    state.accept(image(1));
    const ended = state.end('merged', 'pull request merged');
    expect(ended).toMatchObject({ imageId: image(1).imageId, state: 'invalidated', endReason: 'merged' });
    expect(state.current).toBeNull();
    expect(state.isRetiring(image(1).imageId)).toBe(true);
    expect(state.publishedImage()).toEqual(ended);

    state.replaceRetiring(image(1).imageId, { ...ended!, state: 'removal-blocked', blockedBy: 'c1' });
    expect(state.publishedStatus(state.publishedImage()!)).toBe('removal-blocked');
    expect(state.latest(image(1)).blockedBy).toBe('c1');
    expect(state.drained()).toBe(false);

    state.finish({ ...ended!, state: 'removed' });
    expect(state.retiring).toEqual([]);
    expect(state.last?.state).toBe('removed');
    expect(state.drained()).toBe(true);
  });

  it('keeps a refused removal for the end of the workflow', () => {
    const state = new SnapshotWorkflowState();
    state.accept(image(2));
    const ended = state.end('invalidated', 'by hand')!;
    state.refuse(ended, 'not managed');
    expect(state.refusals).toEqual([`${ended.imageId}: not managed`]);
    expect(state.last?.message).toBe('removal refused: not managed');
    expect(state.retiring).toEqual([]);
  });

  it('a fixed TTL keeps its expiry on a touch; a sliding one moves', () => {
    const fixed = new SnapshotWorkflowState();
    fixed.accept(image(3));
    const touched = fixed.touch();
    expect(touched.expiresAt).toBe(image(3).expiresAt);
    expect(Date.parse(touched.lastUsedAt)).toBeGreaterThan(Date.parse(image(3).lastUsedAt));

    const sliding = new SnapshotWorkflowState();
    sliding.accept(image(4, { slidingTtl: true }));
    const moved = sliding.touch();
    expect(Date.parse(moved.expiresAt) - Date.parse(moved.lastUsedAt)).toBe(3600 * 1000);
  });

  it('remembers deliveries (bounded) and tells events from before the current image', () => {
    const state = new SnapshotWorkflowState();
    expect(state.firstDelivery(undefined)).toBe(true);
    expect(state.firstDelivery('d1')).toBe(true);
    expect(state.firstDelivery('d1')).toBe(false);
    for (let i = 0; i < 300; i++) state.firstDelivery(`x${i}`);
    expect(state.deliveries.length).toBe(200);
    expect(state.firstDelivery('d1')).toBe(true);

    expect(state.happenedBeforeCurrent('2026-11-28T09:00:00.000Z')).toBe(false);
    state.accept(image(5));
    expect(state.happenedBeforeCurrent('2026-11-28T09:00:00.000Z')).toBe(true);
    expect(state.happenedBeforeCurrent('2026-11-28T10:30:00.000Z')).toBe(false);
    expect(state.happenedBeforeCurrent(undefined)).toBe(false);
  });

  it('hands everything pending to the next run', () => {
    const state = new SnapshotWorkflowState();
    state.accept(image(6));
    state.end('replaced', 'replaced');
    state.accept(image(7));
    state.firstDelivery('d9');
    state.mergedPullRequests.push('acme/app#1');
    const next = new SnapshotWorkflowState(state.carry());
    expect(next.view()).toEqual(state.view());
    expect(next.deliveries).toEqual(['d9']);
    expect(next.mergedPullRequests).toEqual(['acme/app#1']);
    expect(next.refusals).toEqual([]);
  });
});
