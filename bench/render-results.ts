// `npx tsx bench/render-results.ts <result.json>...`: the markdown of saved runs (their table, the
// machine, the server settings and the command), as docs/benchmarks.md quotes them.
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { repoPath } from '../scripts/lib/repo-root.js';
import { markdownTable, notesOf } from './report.js';
import type { BenchFailure, BenchResult } from './result-types.js';

interface SavedRun {
  meta: {
    date?: string;
    command?: string;
    label?: string | null;
    temporal?: string;
    machine?: Record<string, unknown>;
    server?: Record<string, unknown>;
  };
  results: BenchResult[];
  failures: BenchFailure[];
}

async function main(): Promise<void> {
  for (const file of process.argv.slice(2)) {
    const run = JSON.parse(await readFile(file, 'utf8')) as SavedRun;
    const m = run.meta.machine ?? {};
    const server = run.meta.server ?? {};
    console.log(
      `#### ${run.meta.label ?? 'run'}: \`${run.meta.command ?? '?'}\` (${run.meta.date ?? '?'})\n`,
    );
    console.log(
      `Machine: ${String(m.nproc)} cores (${String(m.cpuModel)}), load average at start ${JSON.stringify(m.loadAverageAtStart)}; ` +
        `Node ${String(m.node)}, Temporal SDK ${String(m.temporalSdk)}, server ${String(m.temporalServer)} (${String(server.kind)}), ` +
        `Docker ${String(m.dockerEngine)}; code ${m.commit === 'unknown' ? `${String(run.meta.label)} (a copy outside git)` : `${String(m.branch)} @ ${String(m.commit).slice(0, 10)}`}. ` +
        `JSON: [\`${relative(repoPath(), file)}\`](../${relative(repoPath(), file)}).\n`,
    );
    console.log(markdownTable(run.results, run.failures));
    console.log(`\n${notesOf(run.results)}\n`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
