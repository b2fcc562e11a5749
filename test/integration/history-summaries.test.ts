import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { uniqueIds } from '../support/test-env.js';
import { useFileWorker } from '../support/file-worker.js';
import { waitFor } from '../support/wait-for.js';

const files = useFileWorker('summaries');
const HOST = files.hostId;

function summaries(events: temporal.api.history.v1.IHistoryEvent[]): string[] {
  return events.flatMap((e) => {
    const payload = e.userMetadata?.summary;
    return payload ? [String(defaultPayloadConverter.fromPayload(payload))] : [];
  });
}

describe('event history', () => {
  it("reads as the snapshot's story: inspect, TTL timer and the cleanup carry summaries", async () => {
    const ids = uniqueIds('story');
    const img = await makeSnapshotImage(files.docker, { ...ids, labels: 'managed' });
    await files.worker.service.register({ ...ids, image: img.image, host: HOST, ttlSeconds: 2 });
    await waitFor(async () => !(await imageExists(files.docker, img.imageId)), {
      timeoutMs: 60_000,
      message: `image ${img.imageId} still on the engine after its TTL`,
    });
    const handle = files.worker.service.handle(ids.projectId, ids.workItemId);
    const short = `${img.imageId.slice(0, 19)}…`;
    await waitFor(
      async () =>
        summaries((await handle.fetchHistory()).events ?? []).some((s) =>
          s.startsWith('invalidate and remove'),
        ),
      { timeoutMs: 30_000, message: 'no remove step in the history' },
    );
    const told = summaries((await handle.fetchHistory()).events ?? []);
    expect(told).toEqual(
      expect.arrayContaining([
        `inspect ${img.image} on ${HOST}`,
        `TTL 2s of ${short}`,
        // Nothing blocked the removal: both steps in one activity.
        `invalidate and remove ${short} on ${HOST}`,
      ]),
    );
  });
});
