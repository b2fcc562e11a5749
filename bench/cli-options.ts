import { Command, InvalidArgumentError } from 'commander';
import type { BenchId } from './result-types.js';
import { BENCH_IDS } from './result-types.js';

export type TemporalKind = 'dev' | 'cluster';
export type BenchSize = 'quick' | 'full';

export interface BenchOptions {
  size: BenchSize;
  only: BenchId[];
  temporal: TemporalKind;
  /** Where the JSON goes; bench/results/<date>-<temporal>-<size>.json when absent. */
  out: string | undefined;
  /** Overrides of one benchmark's main size, e.g. `B5=20000` (for a size that fits the machine). */
  sizes: Partial<Record<BenchId, number>>;
  /** A label for the code under test ("before", "after"), written into the JSON. */
  label: string | undefined;
}

function parseOnly(value: string): BenchId[] {
  const ids = value.split(',').map((s) => s.trim().toUpperCase());
  for (const id of ids) {
    if (!(BENCH_IDS as readonly string[]).includes(id))
      throw new InvalidArgumentError(`${id} is not one of ${BENCH_IDS.join(', ')}`);
  }
  return ids as BenchId[];
}

function parseSize(
  value: string,
  previous: Partial<Record<BenchId, number>>,
): Partial<Record<BenchId, number>> {
  const m = /^(B[1-8])=(\d+)$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`"${value}" is not like B5=20000`);
  return { ...previous, [(m[1] as string).toUpperCase()]: Number(m[2]) };
}

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const program = new Command('npm run bench --')
    .description("snapkeeper's benchmarks B1–B8 against a private Docker engine and Temporal server")
    .option(
      '--quick',
      'small sizes (B1 50, B2 100, B3 100, B4 100, B5 2,000, B6 100, B7 5 of each kind, B8 7 rounds)',
      false,
    )
    .option('--only <ids>', 'a comma-separated subset, e.g. B1,B3', parseOnly)
    .option('--temporal <kind>', 'dev (the CLI dev server, SQLite) or cluster (PostgreSQL)', 'dev')
    .option('--out <path>', 'the JSON result file')
    .option('--size <B=n>', 'override the main size of one benchmark (repeatable)', parseSize, {})
    .option('--label <text>', 'what code is measured (e.g. before, after), kept in the JSON')
    // The error is thrown (and printed once by run.ts) instead of exiting from inside the parser.
    .configureOutput({ writeErr: () => undefined })
    .exitOverride();
  program.parse([...argv], { from: 'user' });
  const o = program.opts<{
    quick: boolean;
    only?: BenchId[];
    temporal: string;
    out?: string;
    size: Partial<Record<BenchId, number>>;
    label?: string;
  }>();
  if (o.temporal !== 'dev' && o.temporal !== 'cluster')
    throw new InvalidArgumentError(`--temporal must be dev or cluster, not ${o.temporal}`);
  return {
    size: o.quick ? 'quick' : 'full',
    only: o.only ?? [...BENCH_IDS],
    temporal: o.temporal,
    out: o.out,
    sizes: o.size,
    label: o.label,
  };
}
