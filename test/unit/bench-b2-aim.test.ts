import { describe, expect, it } from 'vitest';
import { aimTtl } from '../../bench/b2-ttl-expiry.js';

describe("B2's aim of each whole-second TTL at the target second", () => {
  it('sends at once when the expiry lands in the window at the start of the target second', () => {
    // 10.9 s to go: a TTL of 11 s expires 100 ms into the target second; 11 s to go, right at its start.
    expect(aimTtl(10_900, 400)).toEqual({ ttlSeconds: 11, waitMs: 0 });
    expect(aimTtl(11_000, 400)).toEqual({ ttlSeconds: 11, waitMs: 0 });
  });

  it('waits until the next whole second would land in the window', () => {
    // 10.2 s to go: a TTL of 11 s would expire 800 ms into the second; 200 ms later it is 10 s to go.
    expect(aimTtl(10_200, 400)).toEqual({ ttlSeconds: 11, waitMs: 200 });
    const after = aimTtl(10_200 - 200, 400);
    expect(after).toEqual({ ttlSeconds: 10, waitMs: 0 });
  });

  it('never waits for ever: too close to the target, it sends a TTL of one second at once', () => {
    expect(aimTtl(999, 400)).toEqual({ ttlSeconds: 1, waitMs: 0 });
    expect(aimTtl(-5_000, 400)).toEqual({ ttlSeconds: 1, waitMs: 0 });
  });
});
