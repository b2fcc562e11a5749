// `npx tsx bench/b7-compare.ts BEFORE.json AFTER.json`: B7's figures of two saved runs side by side
// (before → after), per kind, per category, per workflow, and the reconcile schedule, as
// docs/benchmarks.md quotes them; with each run's commit, command and load average, so a table is
// never separated from what it measured.
import { readFile } from 'node:fs/promises';
import type { B7Cost, KindCost } from './b7-cost-types.js';
import type { CostTally } from './b7-history-cost.js';
import { COST_CATEGORIES } from './b7-history-cost.js';
import type { BenchResult } from './result-types.js';

interface SavedRun {
  meta: {
    date?: string;
    command?: string;
    temporal?: string;
    machine?: { commit?: string; loadAverageAtStart?: number[] };
  };
  results: BenchResult[];
}

type KindKey = keyof B7Cost['kinds'];
const KINDS: readonly KindKey[] = ['ttl', 'merge', 'invalidate', 'ttl+merge+invalidate', 'evict', 'replace'];
const LABELS: Record<KindKey, string> = {
  ttl: 'TTL expiry',
  merge: 'merge webhook',
  invalidate: 'invalidate (API)',
  'ttl+merge+invalidate': 'TTL, merge and invalidate together',
  evict: 'evicted by the budget',
  replace: 'replaced by the next commit',
};
const GOALS: ReadonlySet<KindKey> = new Set(['ttl', 'merge', 'invalidate', 'ttl+merge+invalidate']);

async function load(file: string): Promise<{ run: SavedRun; cost: B7Cost }> {
  const run = JSON.parse(await readFile(file, 'utf8')) as SavedRun;
  const cost = run.results.find((r) => r.id === 'B7')?.cost;
  if (!cost) throw new Error(`${file} holds no B7 result`);
  return { run, cost };
}

const num = (x: number | undefined) => (x === undefined ? '' : String(Math.round(x * 100) / 100));
const pair = (t: { actions: number; events: number } | undefined) =>
  t ? `${num(t.actions)} / ${num(t.events)}` : '';
const arrow = (a: string, b: string) => (a === '' && b === '' ? '' : `${a || '–'} → ${b || '–'}`);

function describe(label: string, file: string, run: SavedRun): string {
  const m = run.meta.machine ?? {};
  return `${label}: ${run.meta.temporal ?? '?'} server, commit ${String(m.commit ?? '?').slice(0, 7)}, ${run.meta.date ?? '?'}, load average at start ${(m.loadAverageAtStart ?? []).join(' / ')}; \`${run.meta.command ?? '?'}\`; JSON \`${file}\``;
}

function kindsTable(before: B7Cost, after: B7Cost): string[] {
  const lines = [
    '| per lifecycle | actions before → after | events before → after | goal (actions / events) | met after |',
    '| --- | ---: | ---: | --- | --- |',
  ];
  for (const k of KINDS) {
    const b = before.kinds[k]?.perLifecycle;
    const a = after.kinds[k]?.perLifecycle;
    if (!b && !a) continue;
    const goal = GOALS.has(k) ? '≤ 8 / ≤ 25' : '';
    const met =
      GOALS.has(k) && a ? `${a.actions <= 8 ? 'yes' : 'no'} / ${a.events <= 25 ? 'yes' : 'no'}` : '';
    lines.push(
      `| ${LABELS[k]} | ${arrow(num(b?.actions), num(a?.actions))} | ${arrow(num(b?.events), num(a?.events))} | ${goal} | ${met} |`,
    );
  }
  return lines;
}

function categoryTable(before: B7Cost, after: B7Cost): string[] {
  const kinds = KINDS.filter((k) => before.kinds[k] ?? after.kinds[k]);
  const lines = [
    `| category (actions / events per lifecycle, before → after) | ${kinds.map((k) => LABELS[k]).join(' | ')} |`,
    `| --- | ${kinds.map(() => '---').join(' | ')} |`,
  ];
  const cell = (t: CostTally | undefined, c: (typeof COST_CATEGORIES)[number]) => pair(t?.byCategory[c]);
  for (const c of COST_CATEGORIES) {
    const cells = kinds.map((k) =>
      arrow(cell(before.kinds[k]?.perLifecycle, c), cell(after.kinds[k]?.perLifecycle, c)),
    );
    if (cells.every((x) => x === '')) continue;
    lines.push(`| ${c} | ${cells.join(' | ')} |`);
  }
  lines.push(
    `| **all** | ${kinds.map((k) => `**${arrow(pair(before.kinds[k]?.perLifecycle), pair(after.kinds[k]?.perLifecycle))}**`).join(' | ')} |`,
  );
  return lines;
}

function roleTable(before: B7Cost, after: B7Cost): string[] {
  const kinds = KINDS.filter((k) => before.kinds[k] ?? after.kinds[k]);
  const roles = [
    ...new Set(
      kinds.flatMap((k) => [
        ...Object.keys(before.kinds[k]?.byRole ?? {}),
        ...Object.keys(after.kinds[k]?.byRole ?? {}),
      ]),
    ),
  ];
  const lines = [
    `| workflow (actions / events per lifecycle, before → after) | ${kinds.map((k) => LABELS[k]).join(' | ')} |`,
    `| --- | ${kinds.map(() => '---').join(' | ')} |`,
  ];
  for (const role of roles) {
    const cells = kinds.map((k) =>
      arrow(pair(before.kinds[k]?.byRole[role]), pair(after.kinds[k]?.byRole[role])),
    );
    lines.push(`| ${role} | ${cells.join(' | ')} |`);
  }
  return lines;
}

function reconcileLines(before: B7Cost, after: B7Cost): string[] {
  const r = (c: B7Cost) =>
    `${num(c.reconcile.perRun.actions)} actions / ${num(c.reconcile.perRun.events)} events per run, ${num(c.reconcile.perHostHour.actions)} / ${num(c.reconcile.perHostHour.events)} per host per hour`;
  return [`Reconcile schedule: before ${r(before)}; after ${r(after)}.`];
}

function namesTable(before: B7Cost, after: B7Cost): string[] {
  const lines: string[] = [];
  for (const k of KINDS) {
    const a: KindCost | undefined = after.kinds[k];
    const b: KindCost | undefined = before.kinds[k];
    if (!a?.actionsByName) continue;
    lines.push(
      '',
      `${LABELS[k]}: ${num(b?.perLifecycle.actions)} → ${num(a.perLifecycle.actions)} actions per lifecycle`,
      '',
      '| workflow | action | before | after |',
      '| --- | --- | ---: | ---: |',
    );
    const roles = new Set([...Object.keys(b?.actionsByName ?? {}), ...Object.keys(a.actionsByName)]);
    for (const role of roles) {
      const names = new Set([
        ...Object.keys(b?.actionsByName?.[role] ?? {}),
        ...Object.keys(a.actionsByName[role] ?? {}),
      ]);
      const rows = [...names].map((n) => ({
        n,
        before: b?.actionsByName ? (b.actionsByName[role]?.[n] ?? 0) : undefined,
        after: a.actionsByName?.[role]?.[n] ?? 0,
      }));
      for (const row of rows) row.n = shortName(row.n);
      rows.sort((x, y) => y.after - x.after || (y.before ?? 0) - (x.before ?? 0) || x.n.localeCompare(y.n));
      for (const row of rows)
        lines.push(
          `| ${role} | ${row.n} | ${row.before === undefined ? '?' : num(row.before)} | ${num(row.after)} |`,
        );
    }
  }
  return lines;
}

/** A search attribute upsert of many keys, named by their count and the state it shows. */
function shortName(name: string): string {
  const m = /^search attributes (.*)$/.exec(name);
  const keys = m?.[1]?.split(', ') ?? [];
  if (keys.length <= 3) return name;
  const state = keys.find((k) => k.startsWith('SnapshotState='));
  return `search attributes (${keys.length} keys${state ? `, ${state}` : ''})`;
}

async function main(): Promise<void> {
  const [beforeFile, afterFile] = process.argv.slice(2);
  if (!beforeFile || !afterFile) throw new Error('usage: npx tsx bench/b7-compare.ts BEFORE.json AFTER.json');
  const before = await load(beforeFile);
  const after = await load(afterFile);
  const out = [
    `- ${describe('before', beforeFile, before.run)}`,
    `- ${describe('after', afterFile, after.run)}`,
    '',
    ...kindsTable(before.cost, after.cost),
    '',
    ...categoryTable(before.cost, after.cost),
    '',
    ...roleTable(before.cost, after.cost),
    '',
    ...reconcileLines(before.cost, after.cost),
    ...namesTable(before.cost, after.cost),
  ];
  console.log(out.join('\n'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
