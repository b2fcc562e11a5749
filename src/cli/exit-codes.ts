// The exit statuses of `snapkeeper`, documented in docs/cli.md: scripts branch on them.
export const ExitCode = {
  /** Done; for doctor: every check passed (warnings allowed). */
  ok: 0,
  /** The command ran and found a problem: a failed doctor check, a host a reconcile could not reach, a drain that did not finish, an unexpected error. */
  problem: 1,
  /** Bad arguments or bad configuration: nothing was done. */
  usage: 2,
  /** No such snapshot (show, invalidate). */
  notFound: 3,
  /** Temporal could not be reached: nothing was done. */
  unreachable: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
