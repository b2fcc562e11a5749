// Sizes and deadlines of the HTTP layer, in one place so docs/api.md can list them.

/** Limits of the HTTP layer; docs/api.md lists them. */
export const HTTP_LIMITS = {
  /** JSON bodies of /v1. */
  apiBodyBytes: 64 * 1024,
  /**
   * pull_request deliveries (the only ones whose body is read) are tens of KB: GitHub caps a pull
   * request's description at 65,536 characters. Other events are answered without reading them.
   */
  webhookBodyBytes: 1024 * 1024,
  /** Time to receive a whole request (headers and body). */
  requestTimeoutMs: 30_000,
  /** Idle socket timeout; above the slowest handler (a registration waits up to ~20 s for its host). */
  connectionTimeoutMs: 65_000,
  keepAliveTimeoutMs: 5_000,
  /** Temporal deadline of a registration, including the image check on its Docker host. */
  registerDeadlineMs: 45_000,
  /** Temporal deadline of the other /v1 calls. */
  callDeadlineMs: 15_000,
  /** Handing a closed pull request to its workflow: the part of the answer that must succeed. */
  webhookHandOffMs: 8_000,
  /** The API's best-effort first pass of signals, after the hand-off... */
  webhookFastPassMs: 3_000,
  /** ...within what is left of this, so the answer beats GitHub's 10 s timeout. */
  webhookAnswerMs: 9_000,
  readinessDeadlineMs: 2_000,
  /** Concurrent workflow queries of a `view=full` listing. */
  fullViewConcurrency: 8,
} as const;
