// SnapkeeperClient against a real listening server (fake service behind it), and commitSnapshot
// against a recording stand-in for dockerode.
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_SNAPSHOT_REPOSITORY,
  SnapkeeperApiError,
  SnapkeeperClient,
  commitSnapshot,
  defaultSnapshotTag,
} from '@snapkeeper/client';
import * as pkg from '../../src/index.js';
import { SnapshotError } from '../../src/service/snapshot-error.js';
import { IMAGE_REF_PATTERN } from '../../src/contract/limits.js';
import type { Harness } from './api-fakes.js';
import { TOKEN, buildApp, execution, state } from './api-fakes.js';

let h: Harness;
let baseUrl: string;

beforeAll(async () => {
  h = buildApp({ token: TOKEN });
  baseUrl = await h.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await h.app.close();
});

const client = () => new SnapkeeperClient({ baseUrl: `${baseUrl}/`, token: TOKEN });

describe('SnapkeeperClient', () => {
  it('register → created, then unchanged; lookup hits', async () => {
    const c = client();
    const first = await c.register({ projectId: 'org/p', workItemId: 'w/1', image: 'snap/p:1', host: 'h1' });
    expect(first.outcome).toBe('created');
    expect(first.snapshot).toMatchObject({
      projectId: 'org/p',
      workItemId: 'w/1',
      image: 'snap/p:1',
      host: 'h1',
    });
    expect(first.snapshot).not.toHaveProperty('outcome');
    const again = await c.register({ projectId: 'org/p', workItemId: 'w/1', image: 'snap/p:1', host: 'h1' });
    expect(again.outcome).toBe('unchanged');
    expect((await c.lookup('org/p', 'w/1'))?.image).toBe('snap/p:1');
  });

  it('lookup, invalidate and linkPullRequest answer null/false on a miss', async () => {
    const c = client();
    expect(await c.lookup('p', 'missing')).toBeNull();
    expect(await c.invalidate('p', 'missing')).toBe(false);
    expect(await c.linkPullRequest('p', 'missing', { repository: 'a/b', number: 1 })).toBeNull();
  });

  it('invalidate sends the reason; linkPullRequest returns the linked state', async () => {
    const c = client();
    await c.register({ projectId: 'p', workItemId: 'inv', image: 'snap/p:1' });
    const linked = await c.linkPullRequest('p', 'inv', { repository: 'a/b', number: 3 });
    expect(linked?.pullRequest).toEqual({ repository: 'a/b', number: 3 });
    expect(await c.invalidate('p', 'inv', 'flaky & broken')).toBe(true);
    expect(h.service.calls.invalidateImage.at(-1)).toEqual(['p', 'inv', { reason: 'flaky & broken' }]);
  });

  it('invalidate with an imageId: ImageNotCurrent is a 409 SnapkeeperApiError; the current one is accepted', async () => {
    const c = client();
    const { snapshot } = await c.register({ projectId: 'p', workItemId: 'img', image: 'snap/p:1' });
    const stale = `sha256:${'c'.repeat(64)}`;
    await expect(c.invalidate('p', 'img', 'stale', { imageId: stale })).rejects.toMatchObject({
      status: 409,
      code: 'ImageNotCurrent',
    });
    expect(await c.invalidate('p', 'img', undefined, { imageId: snapshot.imageId })).toBe(true);
    expect(h.service.calls.invalidateImage.at(-1)).toEqual([
      'p',
      'img',
      { reason: 'invalidated through the API', imageId: snapshot.imageId },
    ]);
  });

  it('list passes filters and the cursor; listAll walks every page', async () => {
    const rows = [state('acme', 'a'), state('acme', 'b'), state('acme', 'c')];
    h.temporal.rows = (_q, token) => {
      const i = token ? token[0]! : 0;
      return {
        executions: [execution(rows[i]!)],
        ...(i + 1 < rows.length ? { next: new Uint8Array([i + 1]) } : {}),
      };
    };
    const c = client();
    const page = await c.list({ projectId: 'acme', state: 'active', pageSize: 1 });
    expect(page.items.map((i) => i.workItemId)).toEqual(['a']);
    expect(page.nextCursor).toBeTruthy();
    expect(h.temporal.queries.at(-1)?.query).toContain("SnapshotProjectId = 'acme'");
    const all: string[] = [];
    for await (const item of c.listAll({ projectId: 'acme', pageSize: 1 })) all.push(item.workItemId);
    expect(all).toEqual(['a', 'b', 'c']);
  });

  it('throws SnapkeeperApiError with status, code and message', async () => {
    const c = client();
    h.service.failWith = new SnapshotError('ImageNotFound', 'image snap/none:1 does not exist on this host');
    try {
      const err = await c
        .register({ projectId: 'p', workItemId: 'w', image: 'snap/none:1' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SnapkeeperApiError);
      expect(err).toMatchObject({
        status: 422,
        code: 'ImageNotFound',
        message: 'image snap/none:1 does not exist on this host',
      });
    } finally {
      h.service.failWith = undefined;
    }
    const invalid = await c
      .register({ projectId: '-bad', workItemId: 'w', image: 'snap/x:1' })
      .catch((e: unknown) => e);
    expect(invalid).toMatchObject({ status: 400, code: 'InvalidRequest' });
  });

  it('a wrong token is a 401 error; a lookup 404 from a wrong base URL is not a miss', async () => {
    const wrong = new SnapkeeperClient({ baseUrl, token: 'nope' });
    await expect(wrong.lookup('p', 'w')).rejects.toMatchObject({ status: 401, code: 'Unauthorized' });
    const lost = new SnapkeeperClient({ baseUrl: `${baseUrl}/elsewhere`, token: TOKEN });
    await expect(lost.lookup('p', 'w')).rejects.toMatchObject({ status: 404, code: 'NotFound' });
  });

  it('an unreachable server is a NetworkError with status 0', async () => {
    const c = new SnapkeeperClient({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 2000 });
    await expect(c.lookup('p', 'w')).rejects.toMatchObject({ status: 0, code: 'NetworkError' });
  });

  it('the package entry exports the client, the commit helper and the shared names', () => {
    expect(pkg.SnapkeeperClient).toBe(SnapkeeperClient);
    expect(pkg.SnapkeeperApiError).toBe(SnapkeeperApiError);
    expect(pkg.commitSnapshot).toBe(commitSnapshot);
    expect(pkg.managedLabels('p', 'w')).toEqual({
      'io.snapkeeper.managed': 'true',
      'io.snapkeeper.project': 'p',
      'io.snapkeeper.work-item': 'w',
    });
    expect(pkg.ErrorType.imageNotFound).toBe('ImageNotFound');
  });
});

describe('commitSnapshot', () => {
  function fakeDocker() {
    const calls: Array<{ containerId: string; options: Record<string, unknown> }> = [];
    const docker = {
      getContainer: (containerId: string) => ({
        commit: async (options: Record<string, unknown>) => {
          calls.push({ containerId, options });
          return { Id: `sha256:${'c'.repeat(64)}` };
        },
      }),
    } as unknown as Dockerode;
    return { docker, calls };
  }

  it('commits with the managed labels and a unique, valid tag', async () => {
    const { docker, calls } = fakeDocker();
    const a = await commitSnapshot(docker, {
      containerId: 'c1',
      projectId: 'Org/Repo',
      workItemId: 'feature/X.1',
    });
    const b = await commitSnapshot(docker, {
      containerId: 'c1',
      projectId: 'Org/Repo',
      workItemId: 'feature/X.1',
    });
    expect(a.imageId).toBe(`sha256:${'c'.repeat(64)}`);
    expect(a.image).not.toBe(b.image);
    expect(a.image.startsWith(`${DEFAULT_SNAPSHOT_REPOSITORY}:Org_Repo-feature_X.1-`)).toBe(true);
    expect(IMAGE_REF_PATTERN.test(a.image)).toBe(true);
    expect(calls[0]).toEqual({
      containerId: 'c1',
      options: {
        repo: DEFAULT_SNAPSHOT_REPOSITORY,
        tag: a.image.split(':')[1],
        pause: true,
        // The commit declares itself: its id in a label and in the Comment, its own tag in a label.
        comment: `snapkeeper commit ${a.commitId}`,
        changes: [
          'LABEL "io.snapkeeper.managed"="true"',
          'LABEL "io.snapkeeper.project"="Org/Repo"',
          'LABEL "io.snapkeeper.work-item"="feature/X.1"',
          `LABEL "io.snapkeeper.commit"="${a.commitId}"`,
          `LABEL "io.snapkeeper.reference"="${a.image}"`,
        ],
      },
    });
    expect(a.commitId).toMatch(/^[a-f0-9]{24}$/);
    expect(b.commitId).not.toBe(a.commitId);
  });

  it('takes a repository and tag; refuses invalid ids and references', async () => {
    const { docker } = fakeDocker();
    const r = await commitSnapshot(docker, {
      containerId: 'c',
      projectId: 'p',
      workItemId: 'w',
      repository: 'my.registry:5000/snaps',
      tag: 'v1',
    });
    expect(r.image).toBe('my.registry:5000/snaps:v1');
    await expect(
      commitSnapshot(docker, { containerId: 'c', projectId: '-p', workItemId: 'w' }),
    ).rejects.toThrow(/projectId/);
    await expect(
      commitSnapshot(docker, { containerId: 'c', projectId: 'p', workItemId: 'w', repository: 'Upper/Case' }),
    ).rejects.toThrow(/not a valid/);
    await expect(
      commitSnapshot(docker, { containerId: 'c', projectId: 'p', workItemId: 'w', tag: '-bad' }),
    ).rejects.toThrow(/not a valid/);
  });

  it('default tags stay within 128 characters for the longest ids', () => {
    const long = `a${'b'.repeat(127)}`;
    const tag = defaultSnapshotTag(long, long);
    expect(tag.length).toBeLessThanOrEqual(128);
    expect(tag).toMatch(/-[0-9a-z]+-[0-9a-f]{8}$/);
    expect(IMAGE_REF_PATTERN.test(`${DEFAULT_SNAPSHOT_REPOSITORY}:${tag}`)).toBe(true);
  });
});
