// Containers that hold images, for the integration tests and the chaos run alike. Free of vitest,
// so the chaos run (a plain script) can use it too.
import type Dockerode from 'dockerode';

export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number')
    return err.statusCode;
  return undefined;
}

/** Removes a container by id; one that is already gone is fine. */
export async function removeContainerById(docker: Dockerode, id: string): Promise<void> {
  try {
    await docker.getContainer(id).remove({ force: true });
  } catch (err) {
    if (statusCodeOf(err) !== 404) throw err;
  }
}

export interface RunningContainer {
  id: string;
  /** Kills and removes the container; safe to call twice. */
  stop(): Promise<void>;
}

/** A long-running container from `image`: while it exists, removing the image answers 409. */
export async function runContainerFrom(docker: Dockerode, image: string): Promise<RunningContainer> {
  const container = await docker.createContainer({
    Image: image,
    Cmd: ['sleep', '3600'],
    HostConfig: { NetworkMode: 'none' },
    // `sleep` as PID 1 ignores SIGTERM; waiting for it would only slow the tests down.
    StopTimeout: 1,
  });
  await container.start();
  return { id: container.id, stop: () => removeContainerById(docker, container.id) };
}
