import { describe, expect, it } from 'vitest';
import { stepTimeline } from '../support/step-timeline.js';

describe('stepTimeline', () => {
  it('passes a step through and fails an overrunning one with the steps before it', async () => {
    const { step } = stepTimeline(200);
    expect(await step('quick', async () => 7)).toBe(7);
    await expect(step('stuck', () => new Promise(() => undefined))).rejects.toThrow(
      /step "stuck" still running 200 ms into the test; before it: quick \d+ ms/,
    );
  });
});
