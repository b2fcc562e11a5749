// Entry point of the `snapkeeper` CLI (see bin.cjs for how it is started).
import { runCli } from './program.js';
import { exitQuietlyOnEpipe } from './quiet-epipe.js';

exitQuietlyOnEpipe();

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`snapkeeper: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
