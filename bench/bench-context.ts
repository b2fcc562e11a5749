import type Dockerode from 'dockerode';
import type { BenchEnvironment } from './bench-environment.js';
import type { BenchOptions } from './cli-options.js';
import type { ImageEventWatch } from './docker-events.js';
import type { SnapkeeperStack } from './snapkeeper-stack.js';

/** What every benchmark gets: the infrastructure, snapkeeper running on it, and the run's options. */
export interface BenchContext {
  options: BenchOptions;
  environment: BenchEnvironment;
  docker: Dockerode;
  events: ImageEventWatch;
  stack: SnapkeeperStack;
  /** Unique per run: every benchmark's project and repository names carry it. */
  run: string;
  /** Scratch space of this run. */
  dir: string;
  progress(message: string): void;
}

/** The main size of a benchmark: an explicit --size, else the quick or the full default. */
export function sizeOf(
  ctx: BenchContext,
  id: keyof BenchOptions['sizes'],
  quick: number,
  full: number,
): number {
  return ctx.options.sizes[id] ?? (ctx.options.size === 'quick' ? quick : full);
}
