import type { DockerActivityDeps } from './docker-activities.js';
import { createDockerActivities } from './docker-activities.js';

export type ActivityDeps = DockerActivityDeps;

/** Every activity of this process, built from its dependencies (real clients, or test fakes). */
export function createActivities(deps: ActivityDeps) {
  return { ...createDockerActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
