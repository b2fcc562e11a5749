// The CLI's fast path as one file: `npm run build` bundles this module and what it imports into
// dist/src/cli/fast-path.cjs (package.json's build:cli, with esbuild), and bin.cjs loads that file
// first whenever TEMPORAL_HTTP_ADDRESS is set. Node then reads one CommonJS file (no ES module
// loader, no chain of import()s, no commander, no configuration schema, no @temporalio/*) and
// `show`/`ls` ask the frontend's HTTP API over node:net (temporal-http*.ts), printing what the full
// CLI prints. What it cannot answer the same way goes to the full CLI (bin.cjs), which then
// parses the arguments with commander as always.
import { UsageError } from './cli-errors.js';
import { parseFastArgs } from './fast-args.js';
import { exitQuietlyOnEpipe } from './quiet-epipe.js';
import type { OutputStream } from './runtime.js';
import { lsOverHttp } from './temporal-http-ls.js';
import { showOverHttp } from './temporal-http-show.js';

export type FastPathOutcome =
  /** Answered: exit with this code. */
  | { answered: number }
  /**
   * Not answered. `triedHttp`: the HTTP API was asked and the Temporal client must answer instead
   * (the reason is already said at debug level): the full CLI must not ask HTTP a second time.
   * Otherwise the arguments or settings are the full CLI's to read, errors included.
   */
  | { answered?: undefined; triedHttp: boolean };

export async function runFastPath(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  streams: { stdout: OutputStream; stderr: OutputStream },
): Promise<FastPathOutcome> {
  const args = parseFastArgs(argv);
  if (!args) return { triedHttp: false };
  exitQuietlyOnEpipe();
  const globals = args.namespace !== undefined ? { namespace: args.namespace } : {};
  try {
    const code =
      args.command === 'show'
        ? await showOverHttp(env, globals, streams, args.projectId, args.workItemId, args)
        : await lsOverHttp(env, globals, streams, args);
    return code === undefined ? { triedHttp: true } : { answered: code };
  } catch (err) {
    // An invalid TEMPORAL_HTTP_ADDRESS: the full CLI reports it (exit 2), with or without this path.
    if (err instanceof UsageError) return { triedHttp: false };
    throw err;
  }
}
