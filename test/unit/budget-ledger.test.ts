import { describe, expect, it } from 'vitest';
import { summarizeHostSnapshots } from '../../src/activities/budget-control-activities.js';
import { BudgetLedger, COLD_SET_LIMIT } from '../../src/workflows/budget/ledger.js';
import { lruOrder } from '../../src/contract/budget-types.js';
import { planEvictions } from '../../src/workflows/budget/policy.js';
import type { AdmitRequest, BudgetEntry } from '../../src/contract/budget-types.js';
import type { SnapshotOwnerView } from '../../src/contract/reconcile-types.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const hex = (n: number) => n.toString(16).padStart(16, '0').repeat(4);
const NOW = at(100_000);

/** A deterministic shuffle, so that admissions do not arrive in LRU order. */
function lastUseOf(i: number): number {
  return (i * 7919) % 50_000;
}

function request(i: number, overrides: Partial<AdmitRequest> = {}): AdmitRequest {
  return {
    workflowId: `snapshot:project-${i % 20}:work-item-${i}`,
    projectId: `project-${i % 20}`,
    imageId: `sha256:${hex(i)}`,
    sizeBytes: 1_000_000 + i,
    createdAt: at(lastUseOf(i)),
    lastUsedAt: at(lastUseOf(i)),
    ...overrides,
  };
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));
/** Temporal refuses any payload over 2 MiB. */
const TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024;

describe('budget ledger at the size of a large host', () => {
  it('carries 20,000 snapshots across continue-as-new in a bounded payload, with exact totals', () => {
    const ledger = new BudgetLedger();
    const all: BudgetEntry[] = [];
    for (let i = 0; i < 20_000; i++) {
      const req = request(i);
      expect(ledger.admit(req, NOW)).toBe('admitted');
      all.push(req);
    }
    expect(ledger.totals.count).toBe(20_000);
    expect(ledger.totals.bytes).toBe(all.reduce((s, e) => s + e.sizeBytes, 0));
    expect(ledger.totals.projectCounts['project-3']).toBe(1000);

    // What it knows one by one is exactly the coldest of all, whatever order admissions came in.
    const coldest = ledger.coldest();
    expect(coldest).toHaveLength(COLD_SET_LIMIT);
    expect(coldest.map((e) => e.workflowId)).toEqual(
      [...all]
        .sort(lruOrder)
        .slice(0, COLD_SET_LIMIT)
        .map((e) => e.workflowId),
    );
    expect(ledger.complete).toBe(false);

    const carry = ledger.toCarry();
    const bytes = jsonBytes(carry);
    // The old carry (every entry) was over Temporal's limit at this size; this one is a fraction.
    expect(jsonBytes(all)).toBeGreaterThan(TEMPORAL_PAYLOAD_LIMIT);
    expect(bytes).toBeLessThan(TEMPORAL_PAYLOAD_LIMIT / 4);

    // Bounded: the same size at 5,000 snapshots as at 20,000 (it does not grow with the host).
    const small = new BudgetLedger();
    for (let i = 0; i < 5_000; i++) small.admit(request(i), NOW);
    expect(Math.abs(jsonBytes(small.toCarry()) - bytes) / bytes).toBeLessThan(0.05);

    // The next run goes on with the same totals and the same coldest snapshots.
    const next = new BudgetLedger(JSON.parse(JSON.stringify(carry)));
    expect(next.totals).toEqual(ledger.totals);
    expect(next.coldest()).toEqual(coldest);
    // A retried admission (retries come within seconds) still counts once.
    expect(next.admit(request(19_999), NOW)).toBe('repeated');
    console.info(`ledger carry with 20,000 snapshots: ${bytes} bytes (all entries: ${jsonBytes(all)} bytes)`);
  }, 60_000);

  it('counts a replacement as one snapshot, a release once, and not again an admission retried after its release', () => {
    const ledger = new BudgetLedger();
    ledger.admit(request(1), NOW);
    ledger.admit(request(2), NOW);
    const replacement = request(1, {
      imageId: `sha256:${hex(999)}`,
      sizeBytes: 5,
      createdAt: at(60_000),
      lastUsedAt: at(60_000),
      replaces: { imageId: request(1).imageId, sizeBytes: request(1).sizeBytes },
    });
    expect(ledger.admit(replacement, NOW)).toBe('admitted');
    expect(ledger.totals.count).toBe(2);
    expect(ledger.totals.bytes).toBe(5 + request(2).sizeBytes);
    expect(ledger.pending.map((p) => p.imageId)).toEqual([request(1).imageId]);

    const release = { ...request(2) };
    expect(ledger.release(release, NOW)).toBe(true);
    expect(ledger.release(release, NOW)).toBe(false);
    expect(ledger.totals.count).toBe(1);
    expect(ledger.totals.projectCounts['project-2']).toBeUndefined();

    // A retried admission of an image released meanwhile does not count it again.
    expect(ledger.admit(request(2), NOW)).toBe('already-gone');
    expect(ledger.totals.count).toBe(1);
    // A late retry of an older registration does not replace the newer one.
    expect(ledger.admit(request(1, { imageId: `sha256:${hex(5)}`, createdAt: at(1) }), NOW)).toBe('older');
  });

  it('a scan replaces the totals and refills the coldest snapshots', () => {
    const ledger = new BudgetLedger(undefined, 3);
    for (let i = 0; i < 10; i++) ledger.admit(request(i), NOW);
    const views: SnapshotOwnerView[] = [4, 5, 6, 7].map((i) => {
      const r = request(i);
      return {
        workflowId: r.workflowId,
        status: 'running',
        images: [],
        current: { ...r, image: `snap:${i}`, host: 'h1' },
        error: null,
      };
    });
    ledger.applyScan(summarizeHostSnapshots('h1', views, 3));
    expect(ledger.totals.count).toBe(4);
    expect(ledger.coldest()).toHaveLength(3);
    expect(ledger.complete).toBe(false);
  });
});

describe('budget scan at the size of a large host', () => {
  it('sums 20,000 open snapshots into totals and the coldest few, in a bounded result', () => {
    const views: SnapshotOwnerView[] = [];
    for (let i = 0; i < 20_000; i++) {
      const r = request(i);
      views.push({
        workflowId: r.workflowId,
        status: 'running',
        images: [{ imageId: r.imageId, image: `snap:${i}`, host: 'h1', role: 'current' }],
        current: { ...r, image: `snapkeeper/snap-${i}:latest`, host: i % 100 === 0 ? 'h2' : 'h1' },
        error: null,
      });
    }
    views.push({ workflowId: 'snapshot:x:err', status: 'error', images: [], current: null, error: 'boom' });
    const scan = summarizeHostSnapshots('h1', views, COLD_SET_LIMIT);
    expect(scan.totals.count).toBe(19_800);
    expect(scan.coldest).toHaveLength(COLD_SET_LIMIT);
    expect(scan.unanswered).toBe(1);
    expect(scan.threshold).not.toBeNull();
    expect(lruOrder(scan.coldest[COLD_SET_LIMIT - 1] as BudgetEntry, scan.threshold!)).toBeLessThan(0);
    expect(jsonBytes(scan)).toBeLessThan(TEMPORAL_PAYLOAD_LIMIT / 8);
  }, 60_000);
});

describe('eviction plan over totals and the coldest snapshots', () => {
  const limits = { diskHighPercent: 85, diskLowPercent: 80, projectMaxSnapshots: {} };

  it('evicts from the coldest known, counting every snapshot', () => {
    const cold = [request(1), request(2), request(3)];
    const p = planEvictions({
      hostId: 'h1',
      entries: cold,
      totals: { count: 20_001, bytes: 0, projectCounts: {} },
      limits: { ...limits, maxSnapshots: 19_999 },
      disk: null,
      pendingBytes: 0,
      uniqueBytes: {},
    });
    expect(p.evictions.map((e) => e.workflowId)).toEqual(
      [...cold]
        .sort(lruOrder)
        .slice(0, 2)
        .map((e) => e.workflowId),
    );
    expect(p.short).toBe(false);
    expect(p.usage.snapshots).toBe(19_999);
  });

  it('says it is short when the known ones run out and more are counted', () => {
    const p = planEvictions({
      hostId: 'h1',
      entries: [request(1)],
      totals: { count: 20_000, bytes: 0, projectCounts: {} },
      limits: { ...limits, maxSnapshots: 19_990 },
      disk: null,
      pendingBytes: 0,
      uniqueBytes: {},
    });
    expect(p.evictions).toHaveLength(1);
    expect(p.short).toBe(true);
  });
});
