// One factory per task queue: the worker registers createActivities on its host's Docker queue and
// createControlActivities on the workflow queue (src/worker/create-workers.ts).
import { statfs } from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import type { BudgetControlDeps } from './budget-control-activities.js';
import { createBudgetControlActivities } from './budget-control-activities.js';
import { createBudgetHeadroom } from './budget-headroom.js';
import type { BudgetHostDeps } from './budget-host-activities.js';
import { createBudgetHostActivities } from './budget-host-activities.js';
import type { DockerActivityDeps } from './docker-activities.js';
import { createDockerActivities } from './docker-activities.js';
import { createPullRequestControlActivities } from './pull-request-activities.js';
import { createReconcileControlActivities } from './reconcile-control-activities.js';
import type { ReconcileHostDeps } from './reconcile-host-activities.js';
import { createReconcileHostActivities } from './reconcile-host-activities.js';
import { untilCancelledEach } from './until-cancelled.js';

export type ActivityDeps = Omit<DockerActivityDeps, 'headroom'> &
  Omit<ReconcileHostDeps, keyof DockerActivityDeps> &
  Omit<BudgetHostDeps, keyof DockerActivityDeps> & {
    /** Reads the host's budget totals, so registrations far from its limits need not wait for it. */
    client?: Client | undefined;
    hostId?: string | undefined;
  };

/**
 * Every Docker activity of this process, built from its dependencies (real clients, or test
 * fakes): registered on the Docker queue of the host whose engine `docker` talks to.
 */
export function createActivities(deps: ActivityDeps) {
  const headroom =
    deps.client && deps.hostId
      ? createBudgetHeadroom({ ...deps, hostId: deps.hostId, statfs: deps.statfs ?? statfs })
      : undefined;
  return {
    ...createDockerActivities({ ...deps, headroom }),
    ...createReconcileHostActivities(deps),
    ...createBudgetHostActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

export type ControlActivityDeps = BudgetControlDeps;

/**
 * The generic activities that talk to Temporal itself (visibility, queries, signals, the budget
 * entity): registered on the workflow queue, where any worker with a client can run them. Each
 * one's client calls end with its cancellation, so a worker shutting down never waits on one.
 */
export function createControlActivities(deps: ControlActivityDeps) {
  return untilCancelledEach(deps.client, {
    ...createReconcileControlActivities(deps),
    ...createBudgetControlActivities(deps),
    ...createPullRequestControlActivities(deps),
  });
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
