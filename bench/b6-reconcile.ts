import type { BenchContext } from './bench-context.js';
import type { BenchResult } from './result-types.js';

export async function runB6(_ctx: BenchContext): Promise<BenchResult> {
  throw new Error('not built yet');
}
