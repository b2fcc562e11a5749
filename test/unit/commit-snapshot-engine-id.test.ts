import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { commitSnapshot } from '@snapkeeper/client';

const HEX = 'df668b13b17127512e1eaef4a7d83749fb6b20010af1b7e029730e60c424ab71';

function answering(id: string): Dockerode {
  return { getContainer: () => ({ commit: async () => ({ Id: id }) }) } as unknown as Dockerode;
}

describe("commitSnapshot's image id whichever engine answers", () => {
  it("gives Podman's bare hex answer the sha256: prefix and leaves Docker's as it is", async () => {
    const ids = { containerId: 'c1', projectId: 'p', workItemId: 'w' };
    expect((await commitSnapshot(answering(HEX), ids)).imageId).toBe(`sha256:${HEX}`);
    expect((await commitSnapshot(answering(`sha256:${HEX}`), ids)).imageId).toBe(`sha256:${HEX}`);
  });
});
