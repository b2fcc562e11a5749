// An agent router's real sequence, against the API as its own process (src/api/main.ts, the way
// it runs in production), a real worker, the dev server and the private engine:
// commit → register → lookup hits and a job starts from the snapshot → merge webhook → lookup
// misses and the image is gone from the engine.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapkeeperClient, commitSnapshot } from '../../src/index.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists } from '../support/snapshot-images.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { ApiProcess } from '../support/worker-process.js';
import { startListeningApi } from '../support/worker-process.js';
import { delivery, pullRequestEvent } from '../unit/api-github-payloads.js';
import { DEADLINE, http, postWebhook } from './api-helpers.js';

const RUN = randomUUID().slice(0, 8);
const HOST = `router-${RUN}`;
const REPO = `it-org/router-${RUN}`;
const SECRET = `router-secret-${RUN}`;
const TOKEN = `router-token-${RUN}`;

let worker: InProcessWorker;
let docker: Dockerode;
let api: ApiProcess;
let baseUrl: string;

beforeAll(async () => {
  docker = newDocker();
  worker = await startInProcessWorker({ hostId: HOST });
  const dir = join(testEnv().workDir, `router-${RUN}`);
  await mkdir(dir, { recursive: true });
  const policyFile = join(dir, 'policy.yaml');
  await writeFile(policyFile, `projects:\n  disabled-${RUN}:\n    enabled: false\n`);
  ({ api, url: baseUrl } = await startListeningApi({
    env: {
      TEMPORAL_ADDRESS: testEnv().temporalAddress,
      SNAPKEEPER_HOST_ID: HOST,
      SNAPKEEPER_API_TOKEN: TOKEN,
      GITHUB_WEBHOOK_SECRET: SECRET,
      SNAPKEEPER_CONFIG: policyFile,
    },
  }));
});

afterAll(async () => {
  await api?.stop();
  await worker?.stop();
});

/** The router's job: a container from `image` that must find `expectFile` and leaves `writeFile`. */
async function runJob(
  image: string,
  opts: { expectFile?: string; writeFile: string },
): Promise<Dockerode.Container> {
  const script = [
    ...(opts.expectFile ? [`test -f ${opts.expectFile}`] : []),
    `echo done > ${opts.writeFile}`,
  ].join(' && ');
  const container = await docker.createContainer({
    Image: image,
    Cmd: ['sh', '-c', script],
    HostConfig: { NetworkMode: 'none' },
  });
  await container.start();
  const result = (await container.wait()) as { StatusCode?: number };
  if (result.StatusCode !== 0) {
    await container.remove({ force: true });
    throw new Error(`job in ${image} failed with ${result.StatusCode}`);
  }
  return container;
}

describe('router sequence', () => {
  it('commit → register → lookup hits and a job starts from it → merge → lookup misses, image gone', async () => {
    const ids = uniqueIds('router');
    const pr = 42;
    const client = new SnapkeeperClient({ baseUrl, token: TOKEN });

    // 1. The first job runs from the base image; the router commits its container.
    const firstJob = await runJob(testEnv().baseImage, { writeFile: '/job-1-output' });
    let snapshot;
    try {
      snapshot = await commitSnapshot(docker, { containerId: firstJob.id, ...ids });
    } finally {
      await firstJob.remove({ force: true });
    }

    // 2. It registers the snapshot, linked to the work item's pull request.
    const registered = await client.register({
      ...ids,
      image: snapshot.image,
      pullRequest: { repository: REPO, number: pr },
    });
    expect(registered.outcome).toBe('created');
    expect(registered.snapshot).toMatchObject({
      image: snapshot.image,
      imageId: snapshot.imageId,
      host: HOST,
      state: 'active',
    });

    // 3. The next job's lookup hits, and the job starts from the snapshot and sees the first job's work.
    const hit = await client.lookup(ids.projectId, ids.workItemId);
    expect(hit?.image).toBe(snapshot.image);
    const secondJob = await runJob(hit!.image, { expectFile: '/job-1-output', writeFile: '/job-2-output' });
    await secondJob.remove({ force: true });

    // 4. The pull request merges; GitHub sends the webhook (once the link is visible to the API).
    await waitFor(
      async () =>
        (await client.list({ projectId: ids.projectId })).items.some((i) => i.pullRequest?.number === pr),
      { ...DEADLINE, message: 'the pull request link did not reach visibility' },
    );
    const payload = pullRequestEvent({ repository: REPO, number: pr, headRef: `work/${ids.workItemId}` });
    const res = await postWebhook(baseUrl, delivery('pull_request', payload, SECRET));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      outcome: 'merged',
      workItems: [{ ...ids, match: 'link', signalled: true }],
    });

    // 5. The next lookup misses, and the image leaves the engine.
    await waitFor(async () => (await client.lookup(ids.projectId, ids.workItemId)) === null, {
      ...DEADLINE,
      message: 'the lookup still hits after the merge',
    });
    await waitFor(async () => !(await imageExists(docker, snapshot.imageId)), {
      ...DEADLINE,
      message: `image ${snapshot.image} is still on the engine after the merge`,
    });
  });

  it('the API process enforces its token and its policy file', async () => {
    const anonymous = await http(baseUrl, 'GET', '/v1/snapshots');
    expect(anonymous.status).toBe(401);
    const client = new SnapkeeperClient({ baseUrl, token: TOKEN });
    await expect(
      client.register({ projectId: `disabled-${RUN}`, workItemId: 'w', image: testEnv().baseImage }),
    ).rejects.toMatchObject({ status: 403, code: 'ProjectDisabled' });
    expect(await imageExists(docker, testEnv().baseImageId)).toBe(true);
    expect((await http(baseUrl, 'GET', '/readyz')).status).toBe(200);
  });

  it('SIGTERM closes the API cleanly', async () => {
    const exit = await api.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(api.logs()).toContain('api stopped');
  });
});
