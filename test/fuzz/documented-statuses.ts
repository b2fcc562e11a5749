// The statuses docs/api.md documents for the fuzzed situations that are not plain 400/404s: one
// place to change when the contract changes.
export const DOCUMENTED = {
  /** "Request bodies are JSON (Content-Type: application/json); other types get 415." */
  unsupportedType: [415],
  /** "A missing, forged or stale signature … is 401 InvalidSignature, and nothing is signalled." */
  forgedWebhook: [401],
  /** A signed merge of a pull request no snapshot is linked to: handed off (202), nothing to end. */
  mergeAccepted: [202, 503],
  /**
   * "503 TemporalUnavailable means Temporal did not answer in time; retry": documented for every
   * request that reaches Temporal. The fuzz test bounds how many there may be.
   */
  temporalBusy: [503],
  /** "/v1 request body 64 KB (413 PayloadTooLarge above)", "webhook body 1 MiB for pull_request (413 above)". */
  tooLarge: [413],
} as const satisfies Record<string, readonly number[]>;
