// The reconciler's side of the attribution rule, on a private engine: orphans are reaped whether
// or not their router used commitSnapshot, while images built FROM a snapshot, images someone
// else's reference names and snapshots that ended as kept are reported as kept and never removed.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitSnapshot } from '@snapkeeper/client';
import { keptTag } from '../../src/contract/names.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { imageAgeSeconds, startTestHost } from './reconcile-fixture.js';

let host: TestHost;

beforeAll(async () => {
  host = await startTestHost({ name: 'refs-reconcile' });
});

afterAll(async () => {
  await host?.stop();
});

async function olderThan(imageId: string, seconds: number) {
  await waitFor(async () => (await imageAgeSeconds(host.docker, imageId)) > seconds, {
    timeoutMs: (seconds + 10) * 1000,
    message: `image ${imageId} did not get older than ${seconds}s`,
  });
}

/** A router's job and its commitSnapshot, as in production. */
async function committed(ids: { projectId: string; workItemId: string }) {
  const container = await host.docker.createContainer({
    Image: testEnv().baseImage,
    Cmd: ['sh', '-c', `echo ${randomUUID()} > /work`],
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await container.start();
    await container.wait();
    return await commitSnapshot(host.docker, { containerId: container.id, ...ids });
  } finally {
    await container.remove({ force: true });
  }
}

/** `docker build` of a Dockerfile FROM the snapshot: the new image inherits its labels. */
async function buildFrom(docker: Dockerode, from: string, tag: string): Promise<string> {
  const dir = join(testEnv().workDir, `build-${randomUUID().slice(0, 8)}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), `FROM ${from}\nLABEL org.example.promoted=true\n`);
  const stream = await docker.buildImage({ context: dir, src: ['Dockerfile'] }, { t: tag });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => {
      const failed = err?.message ?? out.find((o) => o.error)?.error;
      if (failed) reject(new Error(failed));
      else resolve();
    }),
  );
  return (await docker.getImage(tag).inspect()).Id;
}

const ids = (images: Array<{ imageId: string }>) => images.map((i) => i.imageId);

describe('reconciler: references', () => {
  it('reaps a commitSnapshot commit never registered, and never an image built FROM a snapshot', async () => {
    const orphan = await committed(uniqueIds('refs-orphan'));
    const base = await committed(uniqueIds('refs-base'));
    const promoted = `snapkeeper-test/promoted-${randomUUID().slice(0, 8)}:v1`;
    const derivedId = await buildFrom(host.docker, base.image, promoted);
    expect(derivedId).not.toBe(base.imageId);
    // The base snapshot goes, its tag with it; the derived image keeps its layers.
    await host.docker.getImage(base.image).remove({ noprune: true });
    await olderThan(orphan.imageId, 1);
    await olderThan(derivedId, 1);

    const dry = await host.reconcile({ orphanGraceSeconds: 1, dryRun: true });
    expect(ids(dry.orphansRemoved)).toContain(orphan.imageId);
    expect(ids(dry.orphansRemoved)).not.toContain(derivedId);

    const report = await host.reconcile({ orphanGraceSeconds: 1, dryRun: false });
    expect(ids(report.orphansRemoved)).toContain(orphan.imageId);
    expect(await imageExists(host.docker, orphan.imageId)).toBe(false);
    const kept = report.kept?.find((k) => k.imageId === derivedId);
    expect(kept).toMatchObject({
      references: [promoted],
      reason: expect.stringContaining('built from a snapshot'),
    });
    expect(report.counts.kept).toBeGreaterThanOrEqual(1);
    expect(await imageExists(host.docker, promoted)).toBe(true);
    await host.docker.getImage(derivedId).remove({ force: true });
  });

  it('keeps a raw commit that two tags name, and reaps it once only its own tag is left', async () => {
    const raw = await makeSnapshotImage(host.docker, { ...uniqueIds('refs-raw') });
    const extra = `snapkeeper-test/someones-${randomUUID().slice(0, 8)}:v1`;
    const [repo, tag] = extra.split(':') as [string, string];
    await host.docker.getImage(raw.imageId).tag({ repo, tag });
    await olderThan(raw.imageId, 1);

    const report = await host.reconcile({ orphanGraceSeconds: 1, dryRun: false });
    expect(report.kept?.find((k) => k.imageId === raw.imageId)?.references.sort()).toEqual(
      [raw.image, extra].sort(),
    );
    expect(ids(report.orphansRemoved)).not.toContain(raw.imageId);
    expect(await imageExists(host.docker, raw.imageId)).toBe(true);

    await host.docker.getImage(extra).remove({ noprune: true });
    const after = await host.reconcile({ orphanGraceSeconds: 1, dryRun: false });
    expect(ids(after.orphansRemoved)).toContain(raw.imageId);
    expect(await imageExists(host.docker, raw.imageId)).toBe(false);
  });

  it('reports a snapshot that ended kept, never removes it, and reaps it once its other reference goes', async () => {
    const work = uniqueIds('refs-ended-kept');
    const snap = await committed(work);
    await host.service.register({ ...work, image: snap.image, host: host.hostId });
    const promoted = `snapkeeper-test/debug-${randomUUID().slice(0, 8)}`;
    await host.docker.getImage(snap.imageId).tag({ repo: promoted, tag: 'keep' });
    await host.service.invalidate(work.projectId, work.workItemId, 'done');
    const result = await host.service.handle(work.projectId, work.workItemId).result();
    expect(result.last).toMatchObject({ state: 'kept', keptBy: [`${promoted}:keep`] });
    await olderThan(snap.imageId, 1);

    const report = await host.reconcile({ orphanGraceSeconds: 1, dryRun: false });
    expect(report.kept?.find((k) => k.imageId === snap.imageId)).toMatchObject({
      references: [`${promoted}:keep`],
    });
    expect(await imageExists(host.docker, snap.imageId)).toBe(true);

    await host.docker.getImage(`${promoted}:keep`).remove({ noprune: true });
    expect((await host.docker.getImage(snap.imageId).inspect()).RepoTags).toEqual([keptTag(snap.imageId)]);
    const after = await host.reconcile({ orphanGraceSeconds: 1, dryRun: false });
    expect(ids(after.orphansRemoved)).toContain(snap.imageId);
    expect(await imageExists(host.docker, snap.imageId)).toBe(false);
  });
});
