// The reconciler's results stay under a fixed size whatever the hosts hold and however many there
// are (Temporal refuses payloads over 2 MiB); counts stay exact, lists keep their first entries.
import { describe, expect, it } from 'vitest';
import type { ManagedImage, ReconcileReport } from '../../src/contract/reconcile-types.js';
import { REPORT_LIST_LIMIT, TAGS_PER_IMAGE_LIMIT } from '../../src/contract/reconcile-types.js';
import {
  HOST_REPORT_MAX_BYTES,
  RESULT_MAX_BYTES,
  boundReport,
  boundResult,
  jsonBytes,
} from '../../src/workflows/reconcile/bounds.js';

const TWO_MIB = 2 * 1024 * 1024;

function image(host: string, n: number): ManagedImage {
  const id = `sha256:${n.toString(16).padStart(64, '0')}`;
  return {
    imageId: id,
    // Long references, as many as a report keeps per image: the worst a report may hold.
    tags: Array.from(
      { length: TAGS_PER_IMAGE_LIMIT },
      (_, t) => `registry.example.com/${host}/${'x'.repeat(200)}:tag-${n}-${t}`,
    ),
    projectId: 'project',
    workItemId: `item-${n}`,
    createdAt: new Date(0).toISOString(),
    ageSeconds: 10,
    sizeBytes: 1_000_000,
  };
}

/** A host's report with no lists: only its counts. */
function emptyReport(host: string, error: string | null = null): ReconcileReport {
  return {
    host,
    startedAt: new Date(0).toISOString(),
    finishedAt: new Date(0).toISOString(),
    dryRun: false,
    orphanGraceSeconds: 3600,
    managedImages: 50_000,
    owned: 10_000,
    orphansRemoved: [],
    orphansKeptYoung: [],
    blocked: [],
    kept: [],
    vanished: [],
    unverified: [],
    counts: {
      orphansRemoved: 20_000,
      orphanBytesRemoved: 20_000_000_000,
      orphansKeptYoung: 9_000,
      blocked: 400,
      kept: 300,
      vanished: 0,
      unverified: 0,
      repaired: 0,
    },
    generations: 3,
    error,
  };
}

/** A host's report with every list full. */
function fullReport(host: string, error: string | null = null): ReconcileReport {
  const images = Array.from({ length: REPORT_LIST_LIMIT }, (_, n) => image(host, n));
  return {
    ...emptyReport(host, error),
    orphansRemoved: images,
    orphansKeptYoung: images,
    blocked: images.map((i) => ({ imageId: i.imageId, tags: i.tags, reason: 'in use', holders: i.tags })),
    kept: images.map((i) => ({ ...i, references: i.tags, reason: 'named elsewhere' })),
  };
}

function expectPrefix<T>(cut: T[] | undefined, whole: T[] | undefined): void {
  expect(whole?.slice(0, cut?.length ?? 0)).toEqual(cut ?? []);
}

describe('reconcile result bounds', () => {
  it('one full host report is over the bound, and is cut to fit it with exact counts', () => {
    const report = fullReport('h1');
    expect(jsonBytes(report)).toBeGreaterThan(TWO_MIB);
    const bounded = boundReport(report, HOST_REPORT_MAX_BYTES);
    expect(jsonBytes(bounded)).toBeLessThanOrEqual(HOST_REPORT_MAX_BYTES);
    expect(bounded.truncated).toBe(true);
    expect(bounded.counts).toEqual(report.counts);
    expect(bounded.managedImages).toBe(report.managedImages);
    expect(bounded.orphansRemoved.length).toBeGreaterThan(0);
    expectPrefix(bounded.orphansRemoved, report.orphansRemoved);
    expectPrefix(bounded.kept, report.kept);
  });

  it('a manual reconcile of many busy hosts stays under the result bound', () => {
    const reports = Array.from({ length: 10 }, (_, h) =>
      boundReport(fullReport(`h${h}`), HOST_REPORT_MAX_BYTES),
    );
    // What the workflow returned before: every host's report as it was.
    expect(jsonBytes({ reports })).toBeGreaterThan(TWO_MIB);
    const result = boundResult(reports);
    expect(jsonBytes(result)).toBeLessThanOrEqual(RESULT_MAX_BYTES);
    expect(result.truncated).toBe(true);
    expect(result.reports.map((r) => r.host)).toEqual(reports.map((r) => r.host));
    result.reports.forEach((r, i) => expect(r.counts).toEqual(reports[i]?.counts));
  });

  it('with thousands of hosts, leaves reports out, those of failed hosts last, and counts them', () => {
    const reports = Array.from({ length: 5_000 }, (_, h) =>
      emptyReport(`host-${h}`, h % 1000 === 7 ? `host-${h} did not answer: ${'e'.repeat(5000)}` : null),
    );
    const result = boundResult(reports);
    expect(jsonBytes(result)).toBeLessThanOrEqual(RESULT_MAX_BYTES);
    expect(result.truncated).toBe(true);
    expect(result.omittedReports).toBe(reports.length - result.reports.length);
    expect(result.omittedReports).toBeGreaterThan(0);
    // Every failed host is shown (5 of them), its error cut to a readable length.
    const failed = result.reports.filter((r) => r.error !== null);
    expect(failed.length).toBe(5);
    expect(result.omittedFailures).toBe(0);
    for (const f of failed) expect(f.error?.length).toBeLessThanOrEqual(2001);
  });

  it('leaves a result that fits as it is', () => {
    const small = {
      ...fullReport('h1'),
      orphansRemoved: [image('h1', 1)],
      orphansKeptYoung: [],
      blocked: [],
      kept: [],
    };
    expect(boundReport(small, HOST_REPORT_MAX_BYTES)).toBe(small);
    expect(boundResult([small])).toEqual({ reports: [small] });
  });
});
