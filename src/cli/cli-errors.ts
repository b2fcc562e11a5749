// The CLI's own error classes, in a module that loads nothing: program.ts maps them to exit codes
// without loading the configuration or the Temporal client (see program.ts on lazy commands).

/** Bad arguments or configuration: ExitCode.usage. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Thrown when the frontend does not answer: the CLI exits with ExitCode.unreachable. */
export class TemporalUnreachable extends Error {
  override name = 'TemporalUnreachable';
}
