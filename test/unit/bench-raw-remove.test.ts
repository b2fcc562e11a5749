import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { createRawRemoveActivities } from '../../bench/raw-remove-activities.js';

/** A dockerode whose image remove answers as given, recording the ids it was asked for. */
function fakeDocker(answer: () => Promise<unknown>) {
  const removed: string[] = [];
  const docker = {
    getImage: (id: string) => ({
      remove: () => {
        removed.push(id);
        return answer();
      },
    }),
  } as unknown as Dockerode;
  return { docker, removed };
}

const withStatus = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode });

describe("B2 baseline's raw remove activity", () => {
  it('removes the image by the id it is given', async () => {
    const { docker, removed } = fakeDocker(() => Promise.resolve([{ Deleted: 'sha256:abc' }]));
    await createRawRemoveActivities({ docker }).rawRemoveImage('sha256:abc');
    expect(removed).toEqual(['sha256:abc']);
  });

  it('counts an image already gone (404) as done, so a retried attempt succeeds', async () => {
    const { docker } = fakeDocker(() => Promise.reject(withStatus(404, 'No such image')));
    await expect(createRawRemoveActivities({ docker }).rawRemoveImage('sha256:abc')).resolves.toBeUndefined();
  });

  it('fails on anything else, whatever its message says', async () => {
    const { docker } = fakeDocker(() => Promise.reject(withStatus(409, 'No such image (but in use)')));
    await expect(createRawRemoveActivities({ docker }).rawRemoveImage('sha256:abc')).rejects.toThrow(
      'in use',
    );
  });
});
