// The markdown table printed at the end of a run (and pasted into docs/benchmarks.md).
import type { BenchFailure, BenchResult, Measure } from './result-types.js';

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function cells(m: Measure | undefined): [string, string, string] {
  if (!m) return ['', '', ''];
  if (m.kind === 'latency')
    return [String(m.summary.n), `${fmt(m.summary.median)} ms`, `${fmt(m.summary.p99)} ms`];
  return ['', `${fmt(m.value)} ${m.unit}`, ''];
}

function label(m: Measure | undefined): string {
  return m ? m.label : '';
}

export function markdownTable(results: readonly BenchResult[], failures: readonly BenchFailure[]): string {
  const lines = [
    '| # | what | n | median (or value) | p99 | baseline | baseline n | baseline median | baseline p99 | ratio | goal | met |',
    '| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const r of results) {
    for (const row of r.rows) {
      const [n, med, p99] = cells(row.measured);
      const [bn, bmed, bp99] = cells(row.baseline);
      const ratio = row.ratio === undefined ? '' : `${fmt(row.ratio)}×`;
      const met = row.met === undefined ? '' : row.met ? 'yes' : 'no';
      lines.push(
        `| ${r.id} | ${row.what} | ${n} | ${med} | ${p99} | ${label(row.baseline)} | ${bn} | ${bmed} | ${bp99} | ${ratio} | ${row.goal ?? ''} | ${met} |`,
      );
    }
  }
  for (const f of failures) lines.push(`| ${f.id} | failed: ${f.error.split('\n')[0]} | | | | | | | | | | |`);
  return lines.join('\n');
}

export function notesOf(results: readonly BenchResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const params = Object.entries(r.parameters)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    lines.push(`- ${r.id} (${r.title}): ${params}`);
    for (const note of r.notes) lines.push(`  - ${note}`);
    if (r.breakdown?.length) {
      lines.push(`  - where the time goes (median ms between history events, n=${r.breakdown[0]!.n}):`);
      for (const b of r.breakdown) lines.push(`    - ${b.step}: ${b.medianMs}`);
    }
    if (r.timeline?.length) {
      lines.push('  - where the time goes (median / p99 ms per leg):');
      for (const t of r.timeline) lines.push(`    - ${t.step}: ${t.medianMs} / ${t.p99Ms} (n=${t.n})`);
    }
  }
  return lines.join('\n');
}
