// Keeps every result of the reconciler's workflows, and what one run hands the next, under a fixed
// size: Temporal refuses a payload over 2 MiB (the workflow task fails, and the run with it), and a
// report's lists grow with what a host holds (up to REPORT_LIST_LIMIT entries each, of image
// references of any length), and the overall result with the number of hosts. Counts stay exact;
// lists are cut, and `truncated` says so. Pure: bundled into workflow code.
import type { ReconcileReport, ReconcileResult } from '../../contract/reconcile-types.js';

/** One host's report: its child workflow's result, its carry over continue-as-new, its activity input. */
export const HOST_REPORT_MAX_BYTES = 256 * 1024;
/** The manual reconcile's overall result, whatever the number of hosts. */
export const RESULT_MAX_BYTES = 1024 * 1024;
/** A host's failure text (a Temporal failure message may carry a stack or a long cause chain). */
export const ERROR_MAX_CHARS = 2000;

const LISTS = [
  'orphansRemoved',
  'orphansKeptYoung',
  'blocked',
  'kept',
  'vanished',
  'unverified',
  'repaired',
] as const;

/** The UTF-8 size of a value's JSON, as the payload converter writes it. */
export function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value) ?? '');
}

function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    // Each half of a surrogate pair: the pair is 4 bytes.
    else if (code >= 0xd800 && code <= 0xdfff) bytes += 2;
    else bytes += 3;
  }
  return bytes;
}

/** Whether the value's JSON is at most `maxBytes`, without counting when its length settles it. */
function fits(value: unknown, maxBytes: number): boolean {
  const text = JSON.stringify(value) ?? '';
  if (text.length > maxBytes) return false;
  if (text.length * 3 <= maxBytes) return true;
  return utf8Bytes(text) <= maxBytes;
}

/**
 * The report, with each of its lists cut to its first k entries (the largest k that fits) and its
 * error shortened, so that its JSON is at most `maxBytes` when that is possible at all (a report
 * without lists is a few hundred bytes). A report that fits is returned as it is.
 */
export function boundReport(report: ReconcileReport, maxBytes: number): ReconcileReport {
  const longError = report.error !== null && report.error.length > ERROR_MAX_CHARS;
  if (!longError && fits(report, maxBytes)) return report;
  const base: ReconcileReport = {
    ...report,
    error: longError ? `${(report.error as string).slice(0, ERROR_MAX_CHARS)}…` : report.error,
    truncated: true,
  };
  const lists = LISTS.map((name) => ({ name, entries: (report[name] ?? []) as unknown[] }));
  for (const { name } of lists) (base as unknown as Record<string, unknown[]>)[name] = [];
  // Each entry costs its JSON and a comma; k entries of every list are kept, for the largest k.
  const costs = lists.map(({ entries }) => entries.map((e) => jsonBytes(e) + 1));
  const longest = Math.max(0, ...costs.map((c) => c.length));
  const room = maxBytes - jsonBytes(base);
  let used = 0;
  let k = 0;
  while (k < longest) {
    const next = costs.reduce((sum, c) => sum + (c[k] ?? 0), 0);
    if (used + next > room) break;
    used += next;
    k++;
  }
  const bounded = base as unknown as Record<string, unknown[]>;
  for (const { name, entries } of lists) {
    if (report[name] !== undefined) bounded[name] = entries.slice(0, k);
  }
  return base;
}

/**
 * The overall result: each host's report within an equal share of RESULT_MAX_BYTES; when even the
 * reports without lists do not fit (thousands of hosts), reports are left out, those of hosts that
 * failed last, and counted. Each host's full report stays its child workflow's result.
 */
export function boundResult(reports: ReconcileReport[], maxBytes = RESULT_MAX_BYTES): ReconcileResult {
  const share = Math.floor(maxBytes / Math.max(reports.length, 1));
  const bounded = reports.map((r) => boundReport(r, share));
  const truncated = bounded.some((r, i) => r !== reports[i]);
  if (fits({ reports: bounded, truncated }, maxBytes)) {
    return truncated ? { reports: bounded, truncated } : { reports: bounded };
  }
  // Failed hosts first: they are what an operator must see.
  const order = bounded
    .map((r, i) => ({ r, i }))
    .sort((a, b) => Number(a.r.error === null) - Number(b.r.error === null) || a.i - b.i);
  const kept = new Set<number>();
  // Room for the fields of the result itself.
  let size = jsonBytes({
    reports: [],
    truncated: true,
    omittedReports: reports.length,
    omittedFailures: reports.length,
  });
  for (const { r, i } of order) {
    const add = jsonBytes(r) + 1;
    if (size + add > maxBytes) continue;
    kept.add(i);
    size += add;
  }
  const omitted = bounded.filter((_, i) => !kept.has(i));
  return {
    reports: bounded.filter((_, i) => kept.has(i)),
    truncated: true,
    omittedReports: omitted.length,
    omittedFailures: omitted.filter((r) => r.error !== null).length,
  };
}
