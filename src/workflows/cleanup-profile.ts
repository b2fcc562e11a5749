import { NON_RETRYABLE_DOCKER_ERRORS } from '../contract/errors.js';

// Cleanup must eventually happen whatever is down, so it waits in the host's queue for as long as
// it takes and retries without limit; only permanent refusals stop it. The activities heartbeat
// while they run, so an attempt lost with its worker (or on its way to the worker's code) is
// retried after the heartbeat timeout instead of the start-to-close timeout. (B2's raw baseline
// uses the same profile, so a lost attempt costs both the same.)
export const CLEANUP_ACTIVITY_PROFILE = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '15 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: NON_RETRYABLE_DOCKER_ERRORS,
  },
} as const;
