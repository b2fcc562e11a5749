import { describe, expect, it } from 'vitest';
import { createPrng } from '../chaos/prng.js';

describe('chaos PRNG', () => {
  it('replays the same choices for the same seed, and forks replay too', () => {
    const run = (seed: number) => {
      const p = createPrng(seed);
      const f = p.fork();
      return [p.int(0, 1000), p.hex(12), p.pick(['a', 'b', 'c']), f.int(0, 1000), p.chance(0.5)];
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });

  it('stays within its bounds', () => {
    const p = createPrng(1);
    for (let i = 0; i < 10_000; i++) {
      const n = p.int(3, 7);
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(7);
      const x = p.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});
