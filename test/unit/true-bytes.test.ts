// True bytes (issue 21, budget-true-bytes): the layer groups only snapshots hold, from the engine's
// image tree, and a byte limit that counts each group once and credits an eviction only with the
// groups it was the last to hold.
import { describe, expect, it } from 'vitest';
import { trueBytesNodes } from '../../src/activities/true-bytes.js';
import type { BudgetEntry, BudgetLimits, TrueBytesNode } from '../../src/contract/budget-types.js';
import { imageKey } from '../../src/contract/budget-types.js';
import { LABEL_MANAGED } from '../../src/contract/names.js';
import type { ImageInfo } from '../../src/docker/docker-port.js';
import { TrueBytesCount, planEvictions } from '../../src/workflows/budget/policy.js';

const hex = (name: string) => `sha256:${Buffer.from(name).toString('hex').padEnd(64, '0')}`;
const key = (name: string) => imageKey(hex(name));

/** An image of the engine's tree: its size is its parent's plus `own`. */
function tree(
  spec: Array<{ name: string; parent?: string; own: number; managed?: boolean; tagged?: boolean }>,
): ImageInfo[] {
  const sizes = new Map<string, number>();
  return spec.map((s) => {
    const size = (s.parent ? (sizes.get(s.parent) ?? 0) : 0) + s.own;
    sizes.set(s.name, size);
    return {
      id: hex(s.name),
      repoTags: (s.tagged ?? true) ? [`r:${s.name}`] : [],
      labels: (s.managed ?? true) ? { [LABEL_MANAGED]: 'true' } : ({} as Record<string, string>),
      sizeBytes: size,
      createdAt: '2026-01-01T00:00:00.000Z',
      parentId: s.parent ? hex(s.parent) : '',
      repoDigests: [],
      comment: '',
      layers: 0,
    };
  });
}

// base (unmanaged, 100) ← a (+10) ← b (+20); base ← c (+30); base ← u (unmanaged, +5) ← d (+7)
const HOST = tree([
  { name: 'base', own: 100, managed: false },
  { name: 'a', parent: 'base', own: 10 },
  { name: 'b', parent: 'a', own: 20 },
  { name: 'c', parent: 'base', own: 30 },
  { name: 'u', parent: 'base', own: 5, managed: false },
  { name: 'd', parent: 'u', own: 7 },
]);
const ALL = new Set(['a', 'b', 'c', 'd'].map(key));

/** The nodes as `key: bytes (parent key)`, in a stable order. */
const shape = (nodes: TrueBytesNode[]) =>
  Object.fromEntries(
    nodes.map((n) => [n.key, `${n.bytes}${n.parent ? ` on ${n.parent}` : ''}${n.retired ? ' retired' : ''}`]),
  );

describe('trueBytesNodes (the engine image tree)', () => {
  it('counts each layer once, never a layer an unmanaged image holds', () => {
    const nodes = trueBytesNodes(HOST, ALL, new Set());
    expect(shape(nodes)).toEqual({
      [key('a')]: '10',
      [key('b')]: `20 on ${key('a')}`,
      [key('c')]: '30',
      [key('d')]: '7',
    });
    // Image sizes would count 110 + 130 + 130 + 112; df's Size - SharedSize would give a nothing.
    expect(nodes.reduce((n, s) => n + s.bytes, 0)).toBe(67);
  });

  it('gives a retired (untagged) parent and a pending removal to the snapshots that keep them', () => {
    const host = tree([
      { name: 'base', own: 100, managed: false },
      { name: 'old', parent: 'base', own: 10, tagged: false },
      { name: 'new', parent: 'old', own: 20 },
      { name: 'gone', parent: 'base', own: 40 },
      { name: 'kid', parent: 'gone', own: 1 },
    ]);
    const nodes = trueBytesNodes(host, new Set([key('new'), key('kid')]), new Set([key('gone')]));
    expect(shape(nodes)).toEqual({ [key('new')]: '30', [key('kid')]: '41' });
  });

  it('leaves out layers no asked-about snapshot holds and layers an unmanaged child holds; counts other holders', () => {
    const host = tree([
      { name: 'base', own: 100, managed: false },
      { name: 's', parent: 'base', own: 10 },
      { name: 'user', parent: 's', own: 1, managed: false },
      { name: 't', parent: 'base', own: 3 },
      { name: 't2', parent: 't', own: 4 },
    ]);
    expect(shape(trueBytesNodes(host, new Set([key('s')]), new Set()))).toEqual({});
    const nodes = trueBytesNodes(host, new Set([key('t')]), new Set());
    expect(nodes).toEqual([{ key: key('t'), bytes: 3, others: 1 }]);
  });

  it('walks a chain of 20,000 commits in linear time, and merges a retired chain into one node', () => {
    const live: Array<{ name: string; parent?: string; own: number; tagged?: boolean }> = [
      { name: 'n0', own: 1 },
    ];
    for (let i = 1; i < 20_000; i++) live.push({ name: `n${i}`, parent: `n${i - 1}`, own: 1 });
    const nodes = trueBytesNodes(tree(live), new Set([key('n19999')]), new Set());
    expect(nodes).toHaveLength(20_000);
    // Known only the top: the layers below are held by snapshots it does not count, so not its own.
    expect(new TrueBytesCount(nodes, new Set([key('n19999')]), new Set()).total).toBe(1);
    const count = new TrueBytesCount(nodes, new Set(live.map((s) => key(s.name))), new Set());
    expect(count.total).toBe(20_000);
    // Every image below it is a live snapshot too: evicting the top frees its own layer only.
    expect(count.remove(key('n19999'))).toBe(1);
    expect(count.remove(key('n0'))).toBe(0);
    const retired = live.map((s, i) => ({ ...s, tagged: i === live.length - 1 }));
    expect(shape(trueBytesNodes(tree(retired), new Set([key('n19999')]), new Set()))).toEqual({
      [key('n19999')]: '20000',
    });
  });
});

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
const entry = (name: string, minute: number, sizeBytes: number): BudgetEntry => ({
  workflowId: `snapshot:p:${name}`,
  projectId: 'p',
  imageId: hex(name),
  sizeBytes,
  createdAt: at(minute),
  lastUsedAt: at(minute),
});
const LIMITS: BudgetLimits = { diskHighPercent: 85, diskLowPercent: 80, projectMaxSnapshots: {} };
const names = (p: ReturnType<typeof planEvictions>) => p.evictions.map((e) => e.workflowId.split(':')[2]);

describe('the byte limit on true bytes (planEvictions with trueBytes)', () => {
  // Least recently used first: a, b, c, d; image sizes as the engine reports them.
  const entries = [entry('a', 1, 110), entry('b', 2, 130), entry('c', 3, 130), entry('d', 4, 112)];
  const segments = trueBytesNodes(HOST, ALL, new Set());
  const plan = (maxBytes: number, extra: Partial<Parameters<typeof planEvictions>[0]> = {}) =>
    planEvictions({
      hostId: 'h',
      entries,
      limits: { ...LIMITS, maxBytes },
      disk: null,
      pendingBytes: 0,
      uniqueBytes: {},
      trueBytes: segments,
      ...extra,
    });

  it('reports the true bytes and evicts nothing while they fit', () => {
    const p = plan(67);
    expect(names(p)).toEqual([]);
    expect(p.usage.bytes).toBe(67);
    // The old count (image sizes, 482 bytes) evicts all four for the same limit.
    const old = plan(67, { trueBytes: undefined });
    expect(names(old)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('credits an eviction only with what it was the last to hold: a parent frees nothing alone', () => {
    // 67 > 60: a goes first (LRU) and frees nothing, b then frees a's and its own layers.
    const p = plan(60);
    expect(names(p)).toEqual(['a', 'b']);
    expect(p.usage.bytes).toBe(37);
  });

  it('does not count layers an image it does not know also holds, so it never evicts for them', () => {
    // x, built on d, is no snapshot the budget counts (a derived image, a commit in flight): d's
    // 7 bytes stay while x does, whatever the budget evicts.
    const host = tree([
      { name: 'base', own: 100, managed: false },
      { name: 'a', parent: 'base', own: 10 },
      { name: 'b', parent: 'a', own: 20 },
      { name: 'c', parent: 'base', own: 30 },
      { name: 'u', parent: 'base', own: 5, managed: false },
      { name: 'd', parent: 'u', own: 7 },
      { name: 'x', parent: 'd', own: 3 },
    ]);
    const p = plan(5, { trueBytes: trueBytesNodes(host, ALL, new Set()) });
    expect(names(p)).toEqual(['a', 'b', 'c']);
    expect(p.usage.bytes).toBe(0);
  });

  it('counts a pending removal as gone, and snapshots not known one by one at their image size', () => {
    const p = plan(1000, { departed: [key('c')], entries: entries.filter((e) => e.imageId !== hex('c')) });
    expect(p.usage.bytes).toBe(37);
    const partial = plan(1000, {
      entries: entries.slice(0, 2),
      totals: { count: 5, bytes: 110 + 130 + 500, projectCounts: { p: 5 } },
    });
    // a and b known: their 30 true bytes, and the 500 of the others' image sizes.
    expect(partial.usage.bytes).toBe(530);
  });
});
