import { describe, expect, it } from 'vitest';
import { burstTarget, spreadWakes } from '../../bench/b2-timer-baseline.js';

describe("B2 baseline's timers", () => {
  it('spreads the wake-ups evenly over the window at the start of the target second', () => {
    const wakes = spreadWakes(4, 60_000, 400);
    expect(wakes).toEqual([60_000, 60_100, 60_200, 60_300]);
    const many = spreadWakes(1000, 60_000, 400);
    expect(many[0]).toBe(60_000);
    expect(Math.max(...many)).toBeLessThan(60_400);
    expect(many.every((w, i) => i === 0 || w >= many[i - 1]!)).toBe(true);
  });

  it('aims at a whole second that the starts beat with room to spare', () => {
    // 1,000 starts at 50/s take 20 s: 1.5 × 20 s + 10 s after the next whole second.
    expect(burstTarget(10_250, 1000, 50)).toBe(11_000 + 40_000);
    expect(burstTarget(10_000, 0, 50) % 1000).toBe(0);
  });

  it('falls back to one start per second when the probe measured no rate', () => {
    expect(burstTarget(0, 10, Number.NaN)).toBe(25_000);
    expect(burstTarget(0, 10, 0)).toBe(25_000);
  });
});
