// A small real snapshot for the measurement scripts: a container from the base image writes a
// random marker file and is committed with snapkeeper's own commit helper (so it has the labels).
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';
import { commitSnapshot } from '@snapkeeper/client';

export async function commitMarkerSnapshot(
  docker: Dockerode,
  base: string,
  projectId: string,
  workItemId: string,
): ReturnType<typeof commitSnapshot> {
  const container = await docker.createContainer({
    Image: base,
    Cmd: ['sh', '-c', `echo ${randomBytes(8).toString('hex')} > /marker`],
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await container.start();
    await container.wait();
    return await commitSnapshot(docker, { containerId: container.id, projectId, workItemId, pause: false });
  } finally {
    await container.remove({ force: true });
  }
}
