import { describe, expect, it } from 'vitest';
import { RecentUses } from '../../src/service/recent-uses.js';

describe('RecentUses', () => {
  it('lets lookups racing within the interval share one signal, and forgets it after the interval', async () => {
    const uses = new RecentUses();
    let sends = 0;
    const send = () => {
      sends++;
      return Promise.resolve();
    };
    const first = uses.within('wf', 'img', 1000, 0) ?? uses.remember('wf', 'img', 0, send);
    const second = uses.within('wf', 'img', 1000, 10) ?? uses.remember('wf', 'img', 10, send);
    expect(second).toBe(first);
    await second.sent;
    expect(sends).toBe(1);
    expect(uses.within('wf', 'img', 1000, 1000)).toBeUndefined();
    expect(uses.within('wf', 'other-image', 1000, 10)).toBeUndefined();
  });

  it('forgets a use whose signal failed, so the next lookup sends its own', async () => {
    const uses = new RecentUses();
    const use = uses.remember('wf', 'img', 0, () => Promise.reject(new Error('unavailable')));
    await expect(use.sent).rejects.toThrow('unavailable');
    expect(uses.within('wf', 'img', 1000, 1)).toBeUndefined();
  });

  it('keeps at most its limit, dropping the oldest', () => {
    const uses = new RecentUses(3);
    for (let i = 0; i < 5; i++) uses.remember(`wf-${i}`, 'img', i, () => Promise.resolve());
    expect(uses.size).toBe(3);
    expect(uses.within('wf-0', 'img', 1000, 5)).toBeUndefined();
    expect(uses.within('wf-4', 'img', 1000, 5)).toBeDefined();
  });
});
