// The one activity of B2's baseline: the raw Engine API remove of an image by id, nothing before or
// after it. Gone already (404) is done, as for snapkeeper's cleanup, so a retried attempt succeeds.
import type Dockerode from 'dockerode';
import { statusCodeOf } from '../src/docker/docker-port.js';

export function createRawRemoveActivities({ docker }: { docker: Dockerode }) {
  return {
    async rawRemoveImage(imageId: string): Promise<void> {
      try {
        await docker.getImage(imageId).remove();
      } catch (err) {
        if (statusCodeOf(err) === 404) return;
        throw err;
      }
    },
  };
}

export type RawRemoveActivities = ReturnType<typeof createRawRemoveActivities>;
