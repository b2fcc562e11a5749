import { setTimeout as sleep } from 'node:timers/promises';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { heartbeating, whileHeartbeating } from '../../src/activities/heartbeat.js';

describe('upkeep activity heartbeats', () => {
  it('heartbeat while a long activity runs, when it has a heartbeat timeout', async () => {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 15_000 });
    let beats = 0;
    env.on('heartbeat', () => beats++);
    const acts = heartbeating({ slow: async (ms: number) => (await sleep(ms), 'done') });
    expect(await env.run(acts.slow, 4_500)).toBe('done');
    // One at the start, then one every 2 s.
    expect(beats).toBeGreaterThanOrEqual(3);
    const after = beats;
    await sleep(2_500);
    expect(beats).toBe(after);
  }, 20_000);

  it('stay silent without a heartbeat timeout, and outside an activity', async () => {
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    expect(await env.run(() => whileHeartbeating(async () => (await sleep(2_500), 1)))).toBe(1);
    expect(beats).toBe(0);
    expect(await whileHeartbeating(async () => 2)).toBe(2);
  }, 20_000);
});
