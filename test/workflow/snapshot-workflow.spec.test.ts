import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageIdOf } from './support/fake-docker-hosts.js';
import { DAY_MS, HOUR_MS, SnapshotDriver, newWorkItem } from './support/snapshot-driver.js';
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

describe('a snapshot lives until its TTL, then invalidate and remove run in order', () => {
  it('keeps a one-day snapshot for the day and removes it when the day is over', async () => {
    const image = 'snap/app:ttl-day';
    const imageId = imageIdOf(image);
    const registeredAt = await spec.now();
    const { handle, registered } = await driver.startWith(newWorkItem('ttl'), {
      image,
      ttlSeconds: 24 * 3600,
    });
    expect(registered.outcome).toBe('created');
    expect(registered.snapshot).toMatchObject({ imageId, state: 'active', ttlSeconds: 86_400 });

    await spec.env.sleep(23 * HOUR_MS);
    expect((await driver.state(handle)).current).toMatchObject({ imageId, state: 'active' });
    expect(spec.docker.storyOf(imageId)).toEqual([]);

    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId, state: 'removed', endReason: 'expired' });
    expect(spec.docker.storyOf(imageId)).toEqual(['invalidateSnapshot', 'removeSnapshotImage']);
    const [invalidate] = spec.docker.callsFor(imageId);
    expect(invalidate!.scheduledAtMs - registeredAt).toBeGreaterThanOrEqual(DAY_MS);
    expect(invalidate!.scheduledAtMs - registeredAt).toBeLessThan(DAY_MS + HOUR_MS);
  });
});
