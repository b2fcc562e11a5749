// B4's CPU accounting reads /proc/<pid>/stat: this process's own time grows with work it does, a
// missing process reads as NaN, and a window's time is split per operation.
import { describe, expect, it } from 'vitest';
import { cpuMs, cpuPerOperation } from '../../bench/process-cpu.js';

describe('bench process CPU', () => {
  it('reads a live process and grows with its work; a missing one is NaN', () => {
    const before = cpuMs(process.pid);
    expect(Number.isFinite(before)).toBe(true);
    const until = Date.now() + 150;
    let spin = 0;
    while (Date.now() < until) spin++;
    expect(spin).toBeGreaterThan(0);
    expect(cpuMs(process.pid)).toBeGreaterThan(before);
    expect(cpuMs(2 ** 22 + 12345)).toBeNaN();
  });

  it('splits a window per operation', () => {
    expect(cpuPerOperation({ a: 100, b: 0 }, { a: 400, b: 50 }, 100)).toEqual({ a: 3, b: 0.5 });
  });
});
