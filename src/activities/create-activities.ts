// One factory per task queue: the worker registers createActivities on its host's Docker queue and
// createControlActivities on the workflow queue (src/worker/create-workers.ts).
import type { BudgetControlDeps } from './budget-control-activities.js';
import { createBudgetControlActivities } from './budget-control-activities.js';
import type { BudgetHostDeps } from './budget-host-activities.js';
import { createBudgetHostActivities } from './budget-host-activities.js';
import type { DockerActivityDeps } from './docker-activities.js';
import { createDockerActivities } from './docker-activities.js';
import { createPullRequestControlActivities } from './pull-request-activities.js';
import { createReconcileControlActivities } from './reconcile-control-activities.js';
import type { ReconcileHostDeps } from './reconcile-host-activities.js';
import { createReconcileHostActivities } from './reconcile-host-activities.js';

export type ActivityDeps = DockerActivityDeps &
  Omit<ReconcileHostDeps, keyof DockerActivityDeps> &
  Omit<BudgetHostDeps, keyof DockerActivityDeps>;

/**
 * Every Docker activity of this process, built from its dependencies (real clients, or test
 * fakes): registered on the Docker queue of the host whose engine `docker` talks to.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDockerActivities(deps),
    ...createReconcileHostActivities(deps),
    ...createBudgetHostActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

export type ControlActivityDeps = BudgetControlDeps;

/**
 * The generic activities that talk to Temporal itself (visibility, queries, signals, the budget
 * entity): registered on the workflow queue, where any worker with a client can run them.
 */
export function createControlActivities(deps: ControlActivityDeps) {
  return {
    ...createReconcileControlActivities(deps),
    ...createBudgetControlActivities(deps),
    ...createPullRequestControlActivities(deps),
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
