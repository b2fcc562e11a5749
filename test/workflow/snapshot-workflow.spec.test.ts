// The specification of the snapshot workflow: what it promises, one `describe` per promise, each
// shown from outside (updates, signals, queries, the activities it calls and the result) on
// Temporal's time-skipping test server, so a day of TTL passes in milliseconds. The Docker and
// control activities are scripted fakes; the real ones are proven against a real engine by the
// integration tests.
import { CancelledFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType } from '../../src/contract/errors.js';
import { snapshotWorkflowId, WORKFLOW_TASK_QUEUE } from '../../src/contract/names.js';
import type { SnapshotState, SnapshotWorkflowView } from '../../src/contract/snapshot-types.js';
import {
  evictSignal,
  invalidateSignal,
  invalidateUpdate,
  linkPullRequestUpdate,
  mergedSignal,
  touchUpdate,
  usedSignal,
  vanishedSignal,
} from '../../src/contract/messages.js';
import type { snapshotWorkflow } from '../../src/workflows/snapshot/workflow.js';
import { Worker } from '@temporalio/worker';
import { waitFor } from '../support/wait-for.js';
import { injectSpecContext } from './support/provided-context.js';
import { expectUpdateRefused, expectWorkflowFailed } from './support/expect-failure.js';
import type { DockerActivityCall } from './support/fake-docker-hosts.js';
import { imageIdOf } from './support/fake-docker-hosts.js';
import type { SnapshotHandle } from './support/snapshot-driver.js';
import { DAY_MS, HOUR_MS, PROJECT, SnapshotDriver, newWorkItem } from './support/snapshot-driver.js';
import type { SpecEnvironment } from './support/spec-environment.js';
import { startSpecEnvironment } from './support/spec-environment.js';

let spec: SpecEnvironment;
let driver: SnapshotDriver;

beforeAll(async () => {
  spec = await startSpecEnvironment();
  driver = new SnapshotDriver(spec);
});

afterAll(async () => {
  await spec?.teardown();
});

const REPO = 'acme/app';
const MINUTE_MS = 60_000;

/** A work item and an image reference no other test uses (image ids derive from references). */
function workItem(label: string): { id: string; image: (n: number) => string } {
  const id = newWorkItem(label);
  return { id, image: (n) => `snap/${id}:job-${n}` };
}

function untilState(handle: SnapshotHandle, what: string, accept: (view: SnapshotWorkflowView) => boolean) {
  return driver.until(handle, what, accept);
}

function retiringImage(view: { retiring: SnapshotState[] }, imageId: string): SnapshotState | undefined {
  return view.retiring.find((r) => r.imageId === imageId);
}

describe('a snapshot lives until its TTL, then invalidate and remove run in order', () => {
  it('keeps a one-day snapshot for the whole day and removes it when the day is over', async () => {
    const item = workItem('ttl');
    const imageId = imageIdOf(item.image(1));
    const registeredAt = await spec.now();
    const { handle, registered } = await driver.startWith(item.id, {
      image: item.image(1),
      ttlSeconds: 86_400,
    });
    expect(registered.outcome).toBe('created');
    expect(registered.snapshot).toMatchObject({
      imageId,
      state: 'active',
      ttlSeconds: 86_400,
      endReason: null,
    });

    await spec.env.sleep(23 * HOUR_MS);
    expect((await driver.state(handle)).current).toMatchObject({ imageId, state: 'active' });
    expect(spec.docker.storyOf(imageId)).toEqual(['inspectSnapshotImage']);

    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId, state: 'removed', endReason: 'expired' });
    expect(spec.docker.storyOf(imageId)).toEqual([
      'inspectSnapshotImage',
      'invalidateSnapshot',
      'removeSnapshotImage',
    ]);
    const invalidatedAt = spec.docker.callsFor(imageId)[1]!.scheduledAtMs;
    expect(invalidatedAt - registeredAt).toBeGreaterThanOrEqual(DAY_MS);
    expect(invalidatedAt - registeredAt).toBeLessThan(DAY_MS + HOUR_MS);
  });

  it('gives a registration without a TTL the default of a day', async () => {
    const item = workItem('ttl-default');
    const { handle, registered } = await driver.startWith(item.id, { image: item.image(1) });
    expect(registered.snapshot.ttlSeconds).toBe(86_400);
    expect(Date.parse(registered.snapshot.expiresAt) - Date.parse(registered.snapshot.createdAt)).toBe(
      DAY_MS,
    );
    expect((await handle.result()).last).toMatchObject({ state: 'removed', endReason: 'expired' });
  });
});

describe('a sliding TTL moves with every lookup; a fixed one does not', () => {
  it('expires a sliding snapshot one TTL after its last lookup', async () => {
    const item = workItem('sliding');
    const imageId = imageIdOf(item.image(1));
    const { handle } = await driver.startWith(item.id, {
      image: item.image(1),
      ttlSeconds: 3600,
      slidingTtl: true,
    });

    await spec.env.sleep(50 * MINUTE_MS);
    const touchedAt = await spec.now();
    const touched = await handle.executeUpdate(touchUpdate, { args: [{}] });
    expect(Date.parse(touched.expiresAt) - Date.parse(touched.lastUsedAt)).toBe(HOUR_MS);

    // Past the registration's original hour, but not an hour past the lookup.
    await spec.env.sleep(50 * MINUTE_MS);
    expect((await driver.state(handle)).current).toMatchObject({ imageId, state: 'active' });

    expect((await handle.result()).last).toMatchObject({ imageId, state: 'removed', endReason: 'expired' });
    const invalidatedAt = spec.docker.callsFor(imageId).find((c) => c.activity === 'invalidateSnapshot')!;
    expect(invalidatedAt.scheduledAtMs - touchedAt).toBeGreaterThanOrEqual(HOUR_MS);
    expect(invalidatedAt.scheduledAtMs - touchedAt).toBeLessThan(HOUR_MS + 10 * MINUTE_MS);
  });

  it('records the lookup of a fixed-TTL snapshot but keeps its expiry', async () => {
    const item = workItem('fixed');
    const { handle, registered } = await driver.startWith(item.id, {
      image: item.image(1),
      ttlSeconds: 3600,
    });
    await spec.env.sleep(30 * MINUTE_MS);
    const touched = await handle.executeUpdate(touchUpdate, { args: [{}] });
    expect(touched.expiresAt).toBe(registered.snapshot.expiresAt);
    expect(Date.parse(touched.lastUsedAt)).toBeGreaterThan(Date.parse(registered.snapshot.lastUsedAt));
    const registeredAt = Date.parse(registered.snapshot.createdAt);
    await handle.result();
    const invalidated = spec.docker
      .callsFor(imageIdOf(item.image(1)))
      .find((c) => c.activity === 'invalidateSnapshot')!;
    expect(invalidated.scheduledAtMs - registeredAt).toBeLessThan(HOUR_MS + 10 * MINUTE_MS);
  });
});

describe('a use signalled by a lookup is recorded like a touch, for the image it names only', () => {
  it('moves a sliding TTL, ignores a use of another image and a use already recorded', async () => {
    const item = workItem('used');
    const imageId = imageIdOf(item.image(1));
    const { handle, registered } = await driver.startWith(item.id, {
      image: item.image(1),
      ttlSeconds: 3600,
      slidingTtl: true,
    });
    await spec.env.sleep(50 * MINUTE_MS);
    await handle.signal(usedSignal, { imageId: imageIdOf('snap/elsewhere:job-1') });
    expect((await driver.state(handle)).current?.lastUsedAt).toBe(registered.snapshot.lastUsedAt);

    const usedAt = await spec.now();
    await handle.signal(usedSignal, { imageId, recordEveryMs: MINUTE_MS });
    const recorded = await untilState(
      handle,
      'the use recorded',
      (v) => v.current?.lastUsedAt !== registered.snapshot.lastUsedAt,
    );
    expect(
      Date.parse(recorded.current?.expiresAt ?? '') - Date.parse(recorded.current?.lastUsedAt ?? ''),
    ).toBe(HOUR_MS);
    // A second lookup's signal within the interval records nothing more.
    await handle.signal(usedSignal, { imageId, recordEveryMs: MINUTE_MS });
    expect((await driver.state(handle)).current?.lastUsedAt).toBe(recorded.current?.lastUsedAt);

    // Past the registration's original hour, but not an hour past the use.
    await spec.env.sleep(50 * MINUTE_MS);
    expect((await driver.state(handle)).current).toMatchObject({ imageId, state: 'active' });
    expect((await handle.result()).last).toMatchObject({ imageId, state: 'removed', endReason: 'expired' });
    const invalidatedAt = spec.docker.callsFor(imageId).find((c) => c.activity === 'invalidateSnapshot')!;
    expect(invalidatedAt.scheduledAtMs - usedAt).toBeGreaterThanOrEqual(HOUR_MS);
  });
});

describe('a merge of its linked pull request ends it; other merges do not', () => {
  it('ends the snapshot when its linked pull request merges', async () => {
    const item = workItem('merge');
    const imageId = imageIdOf(item.image(1));
    const { handle } = await driver.startWith(item.id, {
      image: item.image(1),
      pullRequest: { repository: REPO, number: 7 },
    });
    await handle.signal(mergedSignal, {
      pullRequest: { repository: REPO, number: 7 },
      deliveryId: 'merge-7',
    });
    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId, state: 'removed', endReason: 'merged' });
    expect(result.last?.message).toContain(`${REPO}#7 merged`);
    expect(spec.docker.storyOf(imageId)).toEqual([
      'inspectSnapshotImage',
      'invalidateSnapshot',
      'removeSnapshotImage',
    ]);
  });

  it('is not ended by the merge of another pull request, nor by a merge from before its registration', async () => {
    const item = workItem('merge-other');
    const imageId = imageIdOf(item.image(1));
    const { handle, registered } = await driver.startWith(item.id, {
      image: item.image(1),
      pullRequest: { repository: REPO, number: 7 },
    });
    await handle.signal(mergedSignal, {
      pullRequest: { repository: REPO, number: 8 },
      deliveryId: 'merge-8',
    });
    const before = new Date(Date.parse(registered.snapshot.createdAt) - MINUTE_MS).toISOString();
    await handle.signal(mergedSignal, {
      pullRequest: { repository: REPO, number: 7 },
      deliveryId: 'merge-7-stale',
      mergedAt: before,
    });
    expect((await driver.state(handle)).current).toMatchObject({ imageId, state: 'active' });

    // What finally ends it names the real cause: neither earlier merge did.
    await handle.signal(invalidateSignal, { reason: 'spec: end of test' });
    expect((await handle.result()).last).toMatchObject({ imageId, endReason: 'invalidated' });
  });

  it('ignores a redelivered merge webhook that reaches an image registered after the first delivery', async () => {
    const item = workItem('redelivery');
    const first = imageIdOf(item.image(1));
    const second = imageIdOf(item.image(2));
    // Found by its branch (no link): a branch merge ends an image without a pull request.
    const merge = {
      pullRequest: { repository: REPO, number: 9 },
      deliveryId: 'delivery-9',
      match: 'branch' as const,
    };
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    await handle.signal(mergedSignal, merge);
    await untilState(handle, 'the first image ended by the merge', (v) => v.current === null);

    await driver.register(handle, { image: item.image(2) });
    await handle.signal(mergedSignal, merge);
    const view = await driver.state(handle);
    expect(view.current).toMatchObject({ imageId: second, state: 'active' });

    await handle.signal(invalidateSignal, { reason: 'spec: end of test' });
    await handle.result();
    expect(spec.docker.storyOf(first)).toContain('removeSnapshotImage');
  });
});

describe('a link to a pull request that has already merged ends the image', () => {
  it('refuses the link with PullRequestMerged and removes the image', async () => {
    const item = workItem('merged-link');
    const imageId = imageIdOf(item.image(1));
    const pr = { repository: REPO, number: 21 };
    spec.control.recordMerge(pr);
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    await expectUpdateRefused(handle.executeUpdate(linkPullRequestUpdate, { args: [pr] }), {
      type: ErrorType.pullRequestMerged,
      message: 'the snapshot ended and its image is being removed',
    });
    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId, state: 'removed', endReason: 'merged' });
    expect(result.last?.message).toContain(`${REPO}#21 had already merged when it was linked`);
  });
});

describe('a registration refused because its pull request merged changes nothing (issue 17)', () => {
  const open = { repository: REPO, number: 31 };
  /** Every run of this describe, replayed at its end through the same bundle: the new order is deterministic. */
  const runs: SnapshotHandle[] = [];

  it('keeps the current image, linked to its own open pull request, when a registration for a merged one is refused', async () => {
    const item = workItem('refused-keeps');
    const current = imageIdOf(item.image(1));
    const refusedImage = imageIdOf(item.image(2));
    const merged = { repository: REPO, number: 32 };
    spec.control.recordMerge(merged);
    const { handle } = await driver.startWith(item.id, { image: item.image(1), pullRequest: open });
    runs.push(handle);

    await expectUpdateRefused(driver.register(handle, { image: item.image(2), pullRequest: merged }), {
      type: ErrorType.pullRequestMerged,
      message: 'has already merged',
    });
    // The image it would have replaced is current, active, linked as before, and was never touched.
    await untilState(handle, "the refused image's cleanup done", (v) => !retiringImage(v, refusedImage));
    const view = await driver.state(handle);
    expect(view.current).toMatchObject({
      imageId: current,
      state: 'active',
      pullRequest: open,
      endReason: null,
    });
    expect(view.retiring).toEqual([]);
    expect(spec.docker.storyOf(current)).toEqual(['inspectSnapshotImage']);
    // The image registered for the merged pull request ended (as before this fix).
    expect(spec.docker.storyOf(refusedImage)).toEqual([
      'inspectSnapshotImage',
      'invalidateSnapshot',
      'removeSnapshotImage',
    ]);
    // What it holds still ends by its own pull request's merge.
    await handle.signal(mergedSignal, { pullRequest: open, deliveryId: 'refused-keeps-31' });
    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId: current, state: 'removed', endReason: 'merged' });
  });

  it('keeps it when the merge is recorded between the publication of the link and its check', async () => {
    const item = workItem('refused-race');
    const current = imageIdOf(item.image(1));
    const merged = { repository: REPO, number: 33 };
    // The merge record appears while the workflow waits for its check: the race merge-guard.ts closes.
    spec.control.beforeMergeAnswer = (pr) => {
      if (pr.number === merged.number) spec.control.recordMerge(merged);
    };
    try {
      const { handle } = await driver.startWith(item.id, { image: item.image(1), pullRequest: open });
      runs.push(handle);
      await expectUpdateRefused(driver.register(handle, { image: item.image(2), pullRequest: merged }), {
        type: ErrorType.pullRequestMerged,
        message: 'has already merged',
      });
      expect((await driver.state(handle)).current).toMatchObject({ imageId: current, state: 'active' });
      expect(spec.docker.storyOf(current)).toEqual(['inspectSnapshotImage']);
      await handle.signal(invalidateSignal, { reason: 'spec: end of test' });
      expect((await handle.result()).last).toMatchObject({ imageId: current, endReason: 'invalidated' });
    } finally {
      spec.control.beforeMergeAnswer = undefined;
    }
  });

  it("still ends the current image when its own pull request's merge is heard while the refused registration is checked", async () => {
    const item = workItem('refused-own-merge');
    const current = imageIdOf(item.image(1));
    const refusedImage = imageIdOf(item.image(2));
    const own = { repository: REPO, number: 34 };
    const merged = { repository: REPO, number: 35 };
    spec.control.recordMerge(merged);
    const { handle } = await driver.startWith(item.id, { image: item.image(1), pullRequest: own });
    runs.push(handle);
    spec.control.beforeMergeAnswer = async (pr) => {
      if (pr.number !== merged.number) return;
      await handle.signal(mergedSignal, { pullRequest: own, deliveryId: 'own-merge-34' });
    };
    try {
      await expectUpdateRefused(driver.register(handle, { image: item.image(2), pullRequest: merged }), {
        type: ErrorType.pullRequestMerged,
        message: 'has already merged',
      });
    } finally {
      spec.control.beforeMergeAnswer = undefined;
    }
    await handle.result();
    for (const imageId of [current, refusedImage]) {
      expect(spec.docker.storyOf(imageId)).toEqual([
        'inspectSnapshotImage',
        'invalidateSnapshot',
        'removeSnapshotImage',
      ]);
    }
  });

  it('replaces the current image once a registration linked to an open pull request passed its check', async () => {
    const item = workItem('checked-replace');
    const first = imageIdOf(item.image(1));
    const second = imageIdOf(item.image(2));
    const { handle } = await driver.startWith(item.id, { image: item.image(1), pullRequest: open });
    runs.push(handle);
    // The replaced image is still held (the reconciler's owner check) while the check runs.
    let heldDuringCheck: string[] = [];
    spec.control.beforeMergeAnswer = async (pr) => {
      if (pr.number !== 36) return;
      const view = await driver.state(handle);
      heldDuringCheck = [view.current?.imageId ?? '', ...view.retiring.map((r) => r.imageId)];
    };
    try {
      const result = await driver.register(handle, {
        image: item.image(2),
        pullRequest: { repository: REPO, number: 36 },
      });
      expect(result).toMatchObject({ outcome: 'replaced', snapshot: { imageId: second } });
    } finally {
      spec.control.beforeMergeAnswer = undefined;
    }
    expect(heldDuringCheck.sort()).toEqual([first, second].sort());
    await untilState(handle, 'the replaced image removed', (v) => !retiringImage(v, first));
    expect(spec.docker.storyOf(first)).toEqual([
      'inspectSnapshotImage',
      'invalidateSnapshot',
      'removeSnapshotImage',
    ]);
    expect((await driver.state(handle)).current).toMatchObject({ imageId: second, state: 'active' });
    await handle.signal(invalidateSignal, { reason: 'spec: end of test' });
    await handle.result();
  });

  it('replays the histories of the runs above through the same workflow bundle', async () => {
    expect(runs.length).toBe(4);
    const { workflowBundlePath } = injectSpecContext();
    for (const handle of runs) {
      const history = await handle.fetchHistory();
      await Worker.runReplayHistory(
        { workflowBundle: { codePath: workflowBundlePath } },
        history,
        handle.workflowId,
      );
    }
  });
});

describe('an invalidation, an eviction or a vanished image ends it', () => {
  it('ends on the invalidate signal, with its reason', async () => {
    const item = workItem('invalidate');
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    await handle.signal(invalidateSignal, { reason: 'base image rebuilt' });
    expect((await handle.result()).last).toMatchObject({
      state: 'removed',
      endReason: 'invalidated',
      message: 'base image rebuilt',
    });
  });

  it('ends on the invalidateImage update, which answers with the ended image', async () => {
    const item = workItem('invalidate-update');
    const imageId = imageIdOf(item.image(1));
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    const ended = await handle.executeUpdate(invalidateUpdate, { args: [{ reason: 'operator', imageId }] });
    expect(ended).toMatchObject({ imageId, endReason: 'invalidated', message: 'operator' });
    expect((await handle.result()).last).toMatchObject({ imageId, state: 'removed' });
  });

  it('refuses to invalidate an image that is not the current one', async () => {
    const item = workItem('invalidate-other');
    const imageId = imageIdOf(item.image(1));
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    await expectUpdateRefused(
      handle.executeUpdate(invalidateUpdate, {
        args: [{ reason: 'operator', imageId: imageIdOf('snap/other:1') }],
      }),
      { type: ErrorType.imageNotCurrent, message: 'nothing was invalidated' },
    );
    expect((await driver.state(handle)).current).toMatchObject({ imageId, state: 'active' });
    await handle.signal(invalidateSignal, { reason: 'spec: end of test' });
    await handle.result();
  });

  it('ends on an eviction of its image, but not on one decided for an older image', async () => {
    const item = workItem('evict');
    const imageId = imageIdOf(item.image(1));
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    await handle.signal(evictSignal, { reason: 'old eviction', imageId: imageIdOf('snap/older:1') });
    expect((await driver.state(handle)).current).toMatchObject({ imageId, state: 'active' });
    await handle.signal(evictSignal, { reason: 'host over its count budget', imageId });
    expect((await handle.result()).last).toMatchObject({
      imageId,
      state: 'removed',
      endReason: 'evicted',
      message: 'host over its count budget',
    });
  });

  it('ends when the reconciler reports the image vanished from its engine', async () => {
    const item = workItem('vanished');
    const imageId = imageIdOf(item.image(1));
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    await handle.signal(vanishedSignal, { imageId });
    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId, endReason: 'vanished' });
    expect(result.last?.message).toContain('vanished from host build-1');
  });
});

describe('cancel still cleans up', () => {
  it('runs invalidate and remove, and only then ends cancelled', async () => {
    const item = workItem('cancel');
    const imageId = imageIdOf(item.image(1));
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(spec.docker.storyOf(imageId)).toEqual([
      'inspectSnapshotImage',
      'invalidateSnapshot',
      'removeSnapshotImage',
    ]);
  });

  it('waits out a blocked removal before it ends cancelled', async () => {
    const item = workItem('cancel-blocked');
    const imageId = imageIdOf(item.image(1));
    spec.docker.answerRemovals(imageId, { outcome: 'in-use', holders: ['c0ffee000000111122223333'] });
    const { handle } = await driver.startWith(
      item.id,
      { image: item.image(1) },
      { removalBackoffInitialSeconds: 600, removalBackoffMaxSeconds: 600 },
    );
    await handle.cancel();
    await untilState(
      handle,
      'the cancelled snapshot blocked',
      (v) => retiringImage(v, imageId)?.state === 'removal-blocked',
    );
    expect((await handle.describe()).status.name).toBe('RUNNING');

    const err = await handle.result().catch((e: unknown) => e);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    const removals = spec.docker.callsFor(imageId).filter((c) => c.activity === 'removeSnapshotImage');
    expect(removals).toHaveLength(2);
    expect(removals[1]!.scheduledAtMs - removals[0]!.scheduledAtMs).toBeGreaterThanOrEqual(600_000);
  });
});

describe('replacement ends the old image and holds the new one', () => {
  it('removes the replaced image (ended "replaced") while the new one stays current', async () => {
    const item = workItem('replace');
    const old = imageIdOf(item.image(1));
    const next = imageIdOf(item.image(2));
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    const replaced = await driver.register(handle, { image: item.image(2) });
    expect(replaced.outcome).toBe('replaced');
    expect(replaced.snapshot).toMatchObject({ imageId: next, state: 'active' });

    const view = await untilState(handle, 'the replaced image removed', (v) => v.retiring.length === 0);
    expect(view.current).toMatchObject({ imageId: next, state: 'active' });
    expect(view.last).toMatchObject({ imageId: old, state: 'removed', endReason: 'replaced' });
    expect(view.last?.message).toContain(`replaced by ${item.image(2)}`);
    expect(spec.docker.storyOf(old)).toEqual([
      'inspectSnapshotImage',
      'invalidateSnapshot',
      'removeSnapshotImage',
    ]);
    expect(spec.docker.storyOf(next)).toEqual(['inspectSnapshotImage']);

    await handle.signal(invalidateSignal, { reason: 'spec: end of test' });
    expect((await handle.result()).last).toMatchObject({ imageId: next, state: 'removed' });
  });

  it('removes a replaced image on the host that holds it', async () => {
    const item = workItem('replace-host');
    const old = imageIdOf(item.image(1));
    const { handle } = await driver.startWith(item.id, { image: item.image(1), host: 'build-1' });
    await driver.register(handle, { image: item.image(2), host: 'build-2' });
    await untilState(handle, 'the replaced image removed', (v) => v.retiring.length === 0);
    const cleanup = spec.docker.callsFor(old).filter((c) => c.activity !== 'inspectSnapshotImage');
    expect(cleanup.map((c) => c.host)).toEqual(['build-1', 'build-1']);
    await handle.signal(invalidateSignal, { reason: 'spec: end of test' });
    await handle.result();
    const last = spec.docker.callsFor(imageIdOf(item.image(2))).at(-1);
    expect(last).toMatchObject({ activity: 'removeSnapshotImage', host: 'build-2' });
  });

  it('answers a repeated registration of the current image "unchanged" and removes nothing', async () => {
    const item = workItem('register-again');
    const imageId = imageIdOf(item.image(1));
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    const again = await driver.register(handle, { image: item.image(1) });
    expect(again).toMatchObject({ outcome: 'unchanged', snapshot: { imageId, state: 'active' } });
    expect(spec.docker.storyOf(imageId)).toEqual(['inspectSnapshotImage', 'inspectSnapshotImage']);
    await handle.signal(invalidateSignal, { reason: 'spec: end of test' });
    await handle.result();
  });

  it('refuses to register again an image that is on its way off the disk', async () => {
    const item = workItem('register-retiring');
    const old = imageIdOf(item.image(1));
    spec.docker.answerRemovals(old, { outcome: 'in-use', holders: ['c0ffee000000aaaabbbbcccc'] });
    const { handle } = await driver.startWith(
      item.id,
      { image: item.image(1) },
      { removalBackoffInitialSeconds: 600, removalBackoffMaxSeconds: 600 },
    );
    await driver.register(handle, { image: item.image(2) });
    await untilState(
      handle,
      'the replaced image blocked',
      (v) => retiringImage(v, old)?.state === 'removal-blocked',
    );
    await expectUpdateRefused(driver.register(handle, { image: item.image(1) }), {
      type: ErrorType.invalidRequest,
      message: 'is being removed and cannot be registered again',
    });
    await handle.signal(invalidateSignal, { reason: 'spec: end of test' });
    await handle.result();
  });
});

describe('a blocked removal shows removal-blocked with its holder and is retried after backoff', () => {
  it('retries an in-use image with growing backoff until it is removed', async () => {
    const item = workItem('blocked');
    const imageId = imageIdOf(item.image(1));
    const holder = 'deadbeef0000111122223333';
    spec.docker.answerRemovals(
      imageId,
      { outcome: 'in-use', holders: [holder] },
      { outcome: 'in-use', holders: [holder] },
    );
    const { handle } = await driver.startWith(
      item.id,
      { image: item.image(1) },
      { removalBackoffInitialSeconds: 600, removalBackoffMaxSeconds: 3600 },
    );
    await handle.signal(invalidateSignal, { reason: 'spec: blocked' });

    const blocked = await untilState(
      handle,
      'removal-blocked in the query',
      (v) => retiringImage(v, imageId)?.state === 'removal-blocked',
    );
    expect(blocked.current).toBeNull();
    expect(retiringImage(blocked, imageId)?.blockedBy).toContain(holder.slice(0, 12));
    expect(spec.docker.storyOf(imageId).filter((a) => a === 'removeSnapshotImage')).toHaveLength(1);

    const result = await handle.result();
    expect(result.last).toMatchObject({
      imageId,
      state: 'removed',
      blockedBy: null,
      endReason: 'invalidated',
    });
    const removals = spec.docker.callsFor(imageId).filter((c) => c.activity === 'removeSnapshotImage');
    expect(removals).toHaveLength(3);
    expect(removals[1]!.scheduledAtMs - removals[0]!.scheduledAtMs).toBeGreaterThanOrEqual(600_000);
    expect(removals[2]!.scheduledAtMs - removals[1]!.scheduledAtMs).toBeGreaterThanOrEqual(1_200_000);
  });

  it('ends "kept" when a reference snapkeeper does not own still names the image', async () => {
    const item = workItem('kept');
    const imageId = imageIdOf(item.image(1));
    spec.docker.answerRemovals(imageId, { outcome: 'kept', holders: ['someone/else:latest'] });
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    await handle.signal(invalidateSignal, { reason: 'spec: kept' });
    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId, state: 'kept', keptBy: ['someone/else:latest'] });
    expect(result.last?.message).toContain('someone/else:latest');
  });
});

// A cleanup step its host does not answer shows the wait: lean-lifecycle.spec.test.ts, with the
// host's worker stopped (the step waits in its queue), since a new run notices a silent host by the
// step's schedule-to-start timeout; a step a worker took and holds is no longer a silent host.

describe('a cleanup attempt that is lost is retried after its heartbeat timeout', () => {
  it('starts a second attempt within seconds of the lost one, not after the 2-minute start-to-close timeout', async () => {
    const item = workItem('lost-attempt');
    const imageId = imageIdOf(item.image(1));
    const release = spec.docker.loseNextInvalidation(imageId);
    try {
      // The test server does not skip time while an activity is out: this waits the real 15 s.
      const { handle } = await driver.startWith(item.id, { image: item.image(1) });
      await handle.signal(invalidateSignal, { reason: 'spec: lost attempt' });
      expect((await handle.result()).last).toMatchObject({ imageId, state: 'removed' });
      const attempts = spec.docker.callsFor(imageId).filter((c) => c.activity === 'invalidateSnapshot');
      expect(attempts.map((c) => c.attempt)).toEqual([1, 2]);
      const [first, second] = attempts as [DockerActivityCall, DockerActivityCall];
      const gapSeconds = (second.scheduledAtMs - first.scheduledAtMs) / 1000;
      expect(gapSeconds).toBeGreaterThanOrEqual(15);
      expect(gapSeconds).toBeLessThan(60);
    } finally {
      release();
    }
  }, 60_000);
});

describe('a refused removal fails the workflow with the refusal', () => {
  it('fails with UnmanagedImage and the message after a non-retryable refusal', async () => {
    const item = workItem('refused');
    const imageId = imageIdOf(item.image(1));
    spec.docker.answerRemovals(imageId, { refuse: 'the image lost its managed labels' });
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    await handle.signal(invalidateSignal, { reason: 'spec: refused' });
    await expectWorkflowFailed(handle.result(), {
      type: ErrorType.unmanagedImage,
      message: `removal refused: ${imageId}: the image lost its managed labels`,
    });
    // One attempt: a refusal is not retried.
    expect(spec.docker.storyOf(imageId).filter((a) => a === 'removeSnapshotImage')).toHaveLength(1);
  });
});

describe('continue-as-new carries everything', () => {
  // Above what the set-up below writes into the first run's history (about 100 events).
  const CONTINUE_AS_NEW_AFTER = 160;

  it('hands current, retiring, deliveries, merged pull requests and refusals to the next run', async () => {
    const item = workItem('carry');
    const refusedImage = imageIdOf(item.image(1));
    const blockedImage = imageIdOf(item.image(2));
    const current = imageIdOf(item.image(3));
    spec.docker.answerRemovals(refusedImage, { refuse: 'spec: not ours any more' });
    spec.docker.answerRemovals(blockedImage, { outcome: 'in-use', holders: ['feed00000000111122223333'] });
    const { handle } = await driver.startWith(
      item.id,
      { image: item.image(1) },
      {
        continueAsNewAfterEvents: CONTINUE_AS_NEW_AFTER,
        removalBackoffInitialSeconds: 3600,
        removalBackoffMaxSeconds: 3600,
      },
    );
    const firstRun = (await handle.describe()).runId;

    // A refusal: the first image, replaced, cannot be removed.
    await driver.register(handle, { image: item.image(2) });
    await untilState(
      handle,
      'the refusal recorded',
      (v) => v.last?.message?.startsWith('removal refused') === true,
    );
    // A cleanup in flight: the second image, ended by a branch merge, is blocked by a container.
    const branchMerge = {
      pullRequest: { repository: REPO, number: 11 },
      deliveryId: 'carry-11',
      match: 'branch' as const,
    };
    await handle.signal(mergedSignal, branchMerge);
    await untilState(
      handle,
      'the merged image blocked',
      (v) => retiringImage(v, blockedImage)?.state === 'removal-blocked',
    );
    // The current image, and a merge heard that ended nothing (another pull request).
    const registered = await driver.register(handle, { image: item.image(3) });
    await handle.signal(mergedSignal, {
      pullRequest: { repository: REPO, number: 12 },
      deliveryId: 'carry-12',
    });
    expect((await handle.describe()).runId).toBe(firstRun);

    // Signals that change nothing fill the history past the limit; then the run continues as new
    // (once the signals stop: a run cannot close while new events keep arriving).
    for (let i = 0; i < 100 && (await handle.describe()).historyLength < CONTINUE_AS_NEW_AFTER; i++) {
      await handle.signal(evictSignal, {
        reason: 'spec: meant for another image',
        imageId: imageIdOf('snap/none:0'),
      });
    }
    await waitFor(async () => (await handle.describe()).runId !== firstRun, {
      timeoutMs: 20_000,
      message: 'the run continued as new',
    });

    const carried = await driver.state(handle);
    expect(carried.current).toEqual(registered.snapshot);
    // The blocked cleanup starts again from the top in the new run, and now succeeds.
    await untilState(handle, 'the carried cleanup finished', (v) => !retiringImage(v, blockedImage));
    const blockedStory = spec.docker
      .callsFor(blockedImage)
      .filter((c) => c.activity !== 'inspectSnapshotImage');
    expect(blockedStory.map((c) => [c.activity, c.runId === firstRun ? 'first run' : 'later run'])).toEqual([
      ['invalidateSnapshot', 'first run'],
      ['removeSnapshotImage', 'first run'],
      ['invalidateSnapshot', 'later run'],
      ['removeSnapshotImage', 'later run'],
    ]);

    // Deliveries: the branch merge redelivered does not end the image that came after it.
    await handle.signal(mergedSignal, branchMerge);
    expect((await driver.state(handle)).current).toMatchObject({ imageId: current, state: 'active' });

    // Merged pull requests: linking the one heard merging is refused without asking the record.
    const checksBefore = spec.control.mergeChecks.length;
    await expectUpdateRefused(
      handle.executeUpdate(linkPullRequestUpdate, { args: [{ repository: REPO, number: 12 }] }),
      { type: ErrorType.pullRequestMerged, message: `${REPO}#12 has already merged` },
    );
    expect(spec.control.mergeChecks.length).toBe(checksBefore);

    // Refusals: the run that finally ends fails with the first run's refusal.
    await expectWorkflowFailed(handle.result(), {
      type: ErrorType.unmanagedImage,
      message: `${refusedImage}: spec: not ours any more`,
    });
  });
});

describe('identity and input checks', () => {
  it('fails a run whose workflow id is not the one of its project and work item', async () => {
    const handle = await spec.client.workflow.start<typeof snapshotWorkflow>('snapshotWorkflow', {
      taskQueue: WORKFLOW_TASK_QUEUE,
      workflowId: snapshotWorkflowId(PROJECT, 'someone-else'),
      args: [{ projectId: PROJECT, workItemId: newWorkItem('identity') }],
    });
    await expectWorkflowFailed(handle.result(), {
      type: ErrorType.invalidRequest,
      message: 'does not match',
    });
  });

  it('fails a run with an invalid project id', async () => {
    const handle = await spec.client.workflow.start<typeof snapshotWorkflow>('snapshotWorkflow', {
      taskQueue: WORKFLOW_TASK_QUEUE,
      workflowId: `snapshot:${encodeURIComponent(' bad')}:x`,
      args: [{ projectId: ' bad', workItemId: 'x' }],
    });
    await expectWorkflowFailed(handle.result(), {
      type: ErrorType.invalidRequest,
      message: 'is not a valid id',
    });
  });

  it('refuses a malformed registration before it reaches a host, and keeps the current image', async () => {
    const item = workItem('bad-input');
    const imageId = imageIdOf(item.image(1));
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    await expectUpdateRefused(driver.register(handle, { image: 'Not An Image!' }), {
      type: ErrorType.invalidRequest,
      message: 'image must be a Docker image reference',
    });
    await expectUpdateRefused(driver.register(handle, { image: item.image(2), ttlSeconds: 0 }), {
      type: ErrorType.invalidRequest,
      message: 'ttlSeconds must be an integer',
    });
    await expectUpdateRefused(driver.register(handle, { image: item.image(2), host: 'bad host' }), {
      type: ErrorType.invalidRequest,
      message: 'host must match',
    });
    expect(
      spec.docker.calls.filter((c) => c.workflowId === handle.workflowId).map((c) => c.activity),
    ).toEqual(['inspectSnapshotImage']);
    expect((await driver.state(handle)).current).toMatchObject({ imageId, state: 'active' });
    await handle.signal(invalidateSignal, { reason: 'spec: end of test' });
    await handle.result();
  });

  it('refuses an image without its work item labels, keeps the current image and never cleans up the refused one', async () => {
    const item = workItem('unmanaged');
    const imageId = imageIdOf(item.image(1));
    spec.docker.markUnmanaged(item.image(2));
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    await expectUpdateRefused(driver.register(handle, { image: item.image(2) }), {
      type: ErrorType.unmanagedImage,
      message: 'is not a managed snapshot',
    });
    expect((await driver.state(handle)).current).toMatchObject({ imageId, state: 'active' });
    await handle.signal(invalidateSignal, { reason: 'spec: end of test' });
    await handle.result();
    expect(spec.docker.storyOf(imageIdOf(item.image(2)))).toEqual(['inspectSnapshotImage']);
    expect(spec.docker.storyOf(imageId)).toEqual([
      'inspectSnapshotImage',
      'invalidateSnapshot',
      'removeSnapshotImage',
    ]);
  });

  it('answers a lookup or a link without an active image with SnapshotNotFound', async () => {
    const item = workItem('not-found');
    const imageId = imageIdOf(item.image(1));
    // A blocked removal keeps the workflow open after its image ended.
    spec.docker.answerRemovals(imageId, { outcome: 'in-use', holders: ['abad1dea0000111122223333'] });
    const { handle } = await driver.startWith(
      item.id,
      { image: item.image(1) },
      { removalBackoffInitialSeconds: 600, removalBackoffMaxSeconds: 600 },
    );
    await handle.signal(invalidateSignal, { reason: 'spec: ended' });
    await untilState(handle, 'the image ended', (v) => v.current === null);
    await expectUpdateRefused(handle.executeUpdate(touchUpdate, { args: [{}] }), {
      type: ErrorType.snapshotNotFound,
      message: 'no active snapshot',
    });
    await expectUpdateRefused(
      handle.executeUpdate(linkPullRequestUpdate, { args: [{ repository: REPO, number: 1 }] }),
      {
        type: ErrorType.snapshotNotFound,
        message: 'no active snapshot',
      },
    );
    expect((await handle.result()).last).toMatchObject({ imageId, state: 'removed' });
  });
});
