// `snapkeeper ls | head` closes the pipe early; that is not an error worth a stack trace. Shared by
// the full CLI (main.ts) and the fast path (fast-main.ts), which each answer on their own.

let installed = false;

export function exitQuietlyOnEpipe(): void {
  // Once per process: the fast path and the full CLI may both run in one.
  if (installed) return;
  installed = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
}
