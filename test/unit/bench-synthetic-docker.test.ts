import { describe, expect, it } from 'vitest';
import { SyntheticDocker, syntheticImage } from '../../bench/synthetic-docker.js';
import { LABEL_MANAGED, LABEL_PROJECT, LABEL_WORK_ITEM } from '../../src/contract/names.js';

describe("B5's synthetic engine", () => {
  it('holds the image its name describes, with the managed labels of that work item', async () => {
    const docker = new SyntheticDocker();
    const info = await docker.inspectImage(syntheticImage('b5-x', 'item-7'));
    expect(info?.labels).toEqual({
      [LABEL_MANAGED]: 'true',
      [LABEL_PROJECT]: 'b5-x',
      [LABEL_WORK_ITEM]: 'item-7',
    });
    expect(await docker.inspectImage(info!.id)).toMatchObject({ id: info!.id });
    expect(await docker.inspectImage('busybox:latest')).toBeNull();
  });

  it('removes a reference at a time and answers not-found once the image is gone', async () => {
    const docker = new SyntheticDocker();
    const ref = syntheticImage('b5-x', 'item-1');
    const info = await docker.inspectImage(ref);
    await docker.tagImage(ref, 'snapkeeper/held', 'abc');
    expect(await docker.removeImage(ref)).toBe('removed');
    expect(await docker.inspectImage('snapkeeper/held:abc')).toMatchObject({ id: info!.id });
    expect(await docker.removeImage('snapkeeper/held:abc')).toBe('removed');
    expect(await docker.inspectImage(ref)).toBeNull();
    expect(await docker.removeImage(ref)).toBe('not-found');
  });
});
