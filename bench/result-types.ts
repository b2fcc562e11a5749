import type { B7Cost } from './b7-cost-types.js';
import type { Summary } from './stats.js';

export type BenchId = 'B1' | 'B2' | 'B3' | 'B4' | 'B5' | 'B6' | 'B7' | 'B8';
export const BENCH_IDS: readonly BenchId[] = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8'];

/** A latency sample (ms) or a single figure (a rate, a size, a duration). */
export type Measure =
  | { kind: 'latency'; label: string; summary: Summary }
  | { kind: 'figure'; label: string; value: number; unit: string };

/**
 * One line of the report: what snapkeeper does, its fair baseline from the same run, and the ratio.
 * `ratio` is snapkeeper / baseline for latencies and durations, and snapkeeper / baseline for rates
 * too (a rate ratio of 0.8 means 80% of the baseline's throughput).
 */
export interface Row {
  what: string;
  measured: Measure;
  baseline?: Measure;
  ratio?: number;
  goal?: string;
  met?: boolean;
}

export interface BenchResult {
  id: BenchId;
  title: string;
  /** Sizes and settings of this benchmark (n, concurrency, …). */
  parameters: Record<string, number | string | boolean>;
  rows: Row[];
  /** Caveats and what a figure means (a fake engine, a size that did not fit, …). */
  notes: string[];
  /** Samples over time (e.g. worker RSS) when a summary would hide the shape. */
  series?: Record<string, Array<[number, number]>>;
  /** Where the time goes, from the workflows' own histories (runs before merge-timeline.ts: median gaps between consecutive events). */
  breakdown?: Array<{ step: string; medianMs: number; n: number }>;
  /** Legs of one operation between milestones on one clock (see merge-timeline.ts). */
  timeline?: Array<{ step: string; medianMs: number; p99Ms: number; n: number }>;
  /** B7: actions and events per lifecycle, by kind, category and workflow (b7-cost.ts). */
  cost?: B7Cost;
}

export interface BenchFailure {
  id: BenchId;
  error: string;
}
