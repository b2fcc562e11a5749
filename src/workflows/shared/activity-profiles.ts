// Every activity profile of the workflows in one table: timeouts and retries, each with the one
// reason it is what it is. A workflow adds only what depends on its input (a host's task queue, a
// configured schedule-to-start), so a reader compares the profiles here, side by side.
import type { ActivityOptions } from '@temporalio/workflow';
import { ErrorType, NON_RETRYABLE_DOCKER_ERRORS } from '../../contract/errors.js';

/** The one-line reason beside each profile, so the table reads as a table. */
interface ActivityProfile {
  options: ActivityOptions;
  why: string;
}

type ProfileName =
  | 'registration'
  | 'mergeCheck'
  | 'cleanup'
  | 'budgetAdmission'
  | 'budgetHost'
  | 'budgetControl'
  | 'pullRequestControl'
  | 'reconcileControl'
  | 'reconcileHost';

export const ACTIVITY_PROFILES: Readonly<Record<ProfileName, ActivityProfile>> = {
  registration: {
    why: 'A registration answers its caller: a host whose Docker worker is down fails fast, it never queues forever.',
    options: {
      scheduleToStartTimeout: '20 seconds',
      startToCloseTimeout: '30 seconds',
      retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_DOCKER_ERRORS },
    },
  },
  mergeCheck: {
    why: "The merge check is on the caller's path (registration, link): short, with a few quick retries.",
    options: {
      scheduleToCloseTimeout: '20 seconds',
      startToCloseTimeout: '5 seconds',
      retry: { initialInterval: '200 milliseconds', maximumAttempts: 4 },
    },
  },
  cleanup: {
    why: 'Cleanup must happen whatever is down: it waits in the host queue and retries without limit.',
    options: {
      startToCloseTimeout: '2 minutes',
      // An attempt lost with its worker (or on its way to the worker's code) is retried after the
      // heartbeat timeout, not the start-to-close timeout. (B2's raw baseline uses this profile
      // too, so a lost attempt costs both the same.)
      heartbeatTimeout: '15 seconds',
      retry: {
        initialInterval: '1 second',
        backoffCoefficient: 2,
        maximumInterval: '1 minute',
        nonRetryableErrorTypes: NON_RETRYABLE_DOCKER_ERRORS,
      },
    },
  },
  budgetAdmission: {
    why: 'A registration waits for the budget decision: a dead worker is noticed in seconds, retried once.',
    options: {
      scheduleToStartTimeout: '30 seconds',
      startToCloseTimeout: '2 minutes',
      heartbeatTimeout: '15 seconds',
      retry: { maximumAttempts: 2 },
    },
  },
  budgetHost: {
    why: "A host's Docker worker answers fast or not at all, and a registration waits on its facts.",
    options: {
      scheduleToStartTimeout: '20 seconds',
      startToCloseTimeout: '1 minute',
      heartbeatTimeout: '15 seconds',
      retry: { maximumAttempts: 2 },
    },
  },
  budgetControl: {
    why: "A full count of a host's snapshots may take minutes; it heartbeats, so a lost one is seen in seconds.",
    options: {
      startToCloseTimeout: '30 minutes',
      heartbeatTimeout: '15 seconds',
      retry: { maximumAttempts: 3 },
    },
  },
  pullRequestControl: {
    why: 'A 2xx to GitHub promised these signals and GitHub will not redeliver: retried without limit.',
    options: {
      startToCloseTimeout: '2 minutes',
      retry: {
        initialInterval: '1 second',
        backoffCoefficient: 2,
        maximumInterval: '1 minute',
        nonRetryableErrorTypes: [ErrorType.invalidRequest],
      },
    },
  },
  reconcileControl: {
    why: 'Heartbeats: a dead worker is noticed in seconds, not after holding the skip-overlap schedule.',
    options: {
      startToCloseTimeout: '10 minutes',
      heartbeatTimeout: '15 seconds',
      retry: { maximumAttempts: 3 },
    },
  },
  reconcileHost: {
    why: 'A few attempts, then the host is reported; the caller adds the schedule-to-start for a down host.',
    options: {
      startToCloseTimeout: '5 minutes',
      heartbeatTimeout: '15 seconds',
      retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_DOCKER_ERRORS },
    },
  },
};

/** The snapshot workflow's (and the benches') name for the cleanup profile. */
export const CLEANUP_ACTIVITY_PROFILE = ACTIVITY_PROFILES.cleanup.options;
