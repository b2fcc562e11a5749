import { describe, expect, it } from 'vitest';
import { percentile, summarize } from '../../bench/stats.js';
import { parseBenchOptions } from '../../bench/cli-options.js';

describe('bench statistics', () => {
  it('takes the nearest-rank p99 and the median of an even sample', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    const s = summarize(values.reverse());
    expect(s).toMatchObject({ n: 1000, median: 500.5, p99: 990, min: 1, max: 1000 });
  });

  it('lets one outlier in a hundred be the p99, not the median', () => {
    const values = [...Array.from({ length: 99 }, () => 10), 5000];
    expect(summarize(values).median).toBe(10);
    expect(
      percentile(
        [...values].sort((a, b) => a - b),
        99,
      ),
    ).toBe(10);
    expect(
      percentile(
        [...values].sort((a, b) => a - b),
        100,
      ),
    ).toBe(5000);
  });

  it('reports NaN for an empty sample rather than a made-up zero', () => {
    expect(Number.isNaN(summarize([]).median)).toBe(true);
  });
});

describe('npm run bench options', () => {
  it('defaults to the full size of every benchmark on the dev server', () => {
    expect(parseBenchOptions([])).toMatchObject({
      size: 'full',
      only: ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8'],
      temporal: 'dev',
    });
  });

  it('reads --quick, --only, --temporal, --out and size overrides', () => {
    const o = parseBenchOptions([
      '--quick',
      '--only',
      'b1,B3',
      '--temporal',
      'cluster',
      '--out',
      'x.json',
      '--size',
      'B5=20000',
    ]);
    expect(o).toMatchObject({
      size: 'quick',
      only: ['B1', 'B3'],
      temporal: 'cluster',
      out: 'x.json',
      sizes: { B5: 20000 },
    });
  });

  it('refuses an unknown benchmark and an unknown server', () => {
    expect(() => parseBenchOptions(['--only', 'B9'])).toThrow(/B9/);
    expect(() => parseBenchOptions(['--temporal', 'cloud'])).toThrow(/dev or cluster/);
  });
});
