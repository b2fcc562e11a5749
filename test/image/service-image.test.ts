// The production image, built and run as a deployment runs it: `scripts/build-image.sh` builds the
// Dockerfile on the private engine (a Node base image made from this machine's runtime, since no
// registry is reachable), then the image's worker and API run as containers on that engine, with
// host networking to reach the Temporal server on 127.0.0.1 (in CI the cluster on PostgreSQL) and
// the engine's socket mounted into the worker. A router's sequence through them: a committed
// snapshot registered over the API, a signed merge webhook, and the image gone from the engine.
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapkeeperClient, commitSnapshot } from '@snapkeeper/client';
import { findFreePort } from '../../scripts/lib/free-port.js';
import { repoPath } from '../../scripts/lib/repo-root.js';
import { runScript } from '../../scripts/lib/run-script.js';
import { imageExists } from '../support/snapshot-images.js';
import { newDocker, socketPathOf, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { delivery, pullRequestEvent } from '../unit/api-github-payloads.js';
import { postWebhook } from '../integration/api-helpers.js';
import { containerLogs, runOnce } from './container-logs.js';

const RUN = randomUUID().slice(0, 8);
const IMAGE = `snapkeeper-it/service:${RUN}`;
const HOST = `image-${RUN}`;
const REPO = `it-org/image-${RUN}`;
const TOKEN = `image-token-${RUN}`;
const SECRET = `image-secret-${RUN}`;
const DEADLINE = { timeoutMs: 120_000 };

const log = (message: string) => process.stderr.write(`[image] ${message}\n`);

let docker: Dockerode;
let worker: Dockerode.Container;
let api: Dockerode.Container;
let baseUrl: string;
let buildSeconds: number;

async function startContainer(options: Dockerode.ContainerCreateOptions): Promise<Dockerode.Container> {
  const container = await docker.createContainer(options);
  await container.start();
  return container;
}

beforeAll(async () => {
  docker = newDocker();
  const started = Date.now();
  await runScript(repoPath('scripts', 'build-image.sh'), [testEnv().dockerHost, IMAGE], { passStderr: true });
  buildSeconds = (Date.now() - started) / 1000;

  const temporal = [`TEMPORAL_ADDRESS=${testEnv().temporalAddress}`, 'TEMPORAL_NAMESPACE=default'];
  const socketPath = socketPathOf(testEnv().dockerHost);
  const { DockerRootDir } = (await docker.info()) as { DockerRootDir: string };
  worker = await startContainer({
    name: `snapkeeper-worker-${RUN}`,
    Image: IMAGE,
    Env: [
      ...temporal,
      `SNAPKEEPER_HOST_ID=${HOST}`,
      'DOCKER_HOST=unix:///var/run/docker.sock',
      // As in docker-compose.temporal.yml: the engine's data root, read-only, for the disk watermarks.
      'SNAPKEEPER_DISK_PATH=/host-docker-root',
      // Host networking: the default 9464 could be taken by another process on this machine.
      'SNAPKEEPER_WORKER_METRICS_PORT=0',
    ],
    HostConfig: {
      NetworkMode: 'host',
      Binds: [`${socketPath}:/var/run/docker.sock`, `${DockerRootDir}:/host-docker-root:ro`],
      // The image's non-root user reaches the socket through the socket's group, not as root.
      GroupAdd: [String((await stat(socketPath)).gid)],
    },
  });
  const port = await findFreePort();
  api = await startContainer({
    name: `snapkeeper-api-${RUN}`,
    Image: IMAGE,
    Cmd: ['node', 'dist/src/api/main.js'],
    Env: [
      ...temporal,
      `SNAPKEEPER_HOST_ID=${HOST}`,
      `SNAPKEEPER_PORT=${port}`,
      'SNAPKEEPER_LISTEN_HOST=127.0.0.1',
      `SNAPKEEPER_API_TOKEN=${TOKEN}`,
      `GITHUB_WEBHOOK_SECRET=${SECRET}`,
    ],
    HostConfig: { NetworkMode: 'host' },
  });
  baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await containerLogs(worker)).includes('"worker ready"'), {
    ...DEADLINE,
    message: 'the worker container never logged "worker ready"',
  });
  await waitFor(async () => (await fetch(`${baseUrl}/readyz`)).status === 200, {
    ...DEADLINE,
    message: 'the API container never answered /readyz with 200',
  });
});

afterAll(async () => {
  for (const container of [api, worker]) {
    if (!container) continue;
    // What the containers said, for a failed run.
    log(
      `${container.id.slice(0, 12)} output:\n${(await containerLogs(container).catch(() => '')).slice(-4000)}`,
    );
    await container.remove({ force: true }).catch(() => undefined);
  }
});

describe('the production image', () => {
  it('is built from the Dockerfile and holds the build and production dependencies only', async () => {
    const info = await docker.getImage(IMAGE).inspect();
    log(
      `built in ${buildSeconds.toFixed(1)} s; size ${info.Size} bytes (${(info.Size / 2 ** 20).toFixed(0)} MiB)`,
    );
    expect(info.Config.User).toBe('node');
    expect(info.Config.Cmd).toEqual(['node', 'dist/src/worker/main.js']);
    const probe = `const fs = require('node:fs');
      const has = (p) => fs.existsSync(p);
      console.log(JSON.stringify({
        dev: ['tsx', 'typescript', 'vitest', '@temporalio/testing', 'eslint'].filter((n) => has('node_modules/' + n)),
        prod: ['@temporalio/worker', 'fastify', 'dockerode', '@snapkeeper/client'].filter((n) => !has('node_modules/' + n)),
        bundle: has('dist/workflow-bundle.js'),
        bridges: fs.readdirSync('node_modules/@temporalio/core-bridge/releases'),
      }));`;
    const { output, exitCode } = await runOnce(docker, IMAGE, ['node', '-e', probe]);
    expect(exitCode).toBe(0);
    expect(JSON.parse(output.trim())).toEqual({
      dev: [],
      prod: [],
      bundle: true,
      bridges: ['x86_64-unknown-linux-gnu'],
    });
  });

  it('runs node on the build as PID 1, not as root, and loads the prebuilt workflow bundle', async () => {
    for (const [container, entry] of [
      [worker, 'dist/src/worker/main.js'],
      [api, 'dist/src/api/main.js'],
    ] as const) {
      const { State } = await container.inspect();
      expect(State.Running).toBe(true);
      // The container's PID 1, seen from the host (the engine runs on this machine).
      const cmdline = (await readFile(`/proc/${State.Pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      expect(cmdline).toEqual(['node', entry]);
      const uid = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${State.Pid}/status`, 'utf8'))?.[1];
      expect(uid).toBe('1000');
    }
    const logs = await containerLogs(worker);
    expect(logs).toContain('workflow code: the bundle built by npm run build');
    expect(logs).not.toContain('bundling');
  });

  it('register → merge webhook → the image is gone, through the worker and API containers', async () => {
    const ids = uniqueIds('image');
    const pr = 7;
    const client = new SnapkeeperClient({ baseUrl, token: TOKEN });
    // A job's container, committed as the router does.
    const job = await docker.createContainer({
      Image: testEnv().baseImage,
      Cmd: ['sh', '-c', 'echo done > /job-output'],
      HostConfig: { NetworkMode: 'none' },
    });
    let snapshot;
    try {
      await job.start();
      await job.wait();
      snapshot = await commitSnapshot(docker, { containerId: job.id, ...ids });
    } finally {
      await job.remove({ force: true });
    }

    const registered = await client.register({
      ...ids,
      image: snapshot.image,
      pullRequest: { repository: REPO, number: pr },
    });
    expect(registered.outcome).toBe('created');
    expect(registered.snapshot).toMatchObject({ imageId: snapshot.imageId, host: HOST, state: 'active' });
    expect((await client.lookup(ids.projectId, ids.workItemId))?.image).toBe(snapshot.image);

    await waitFor(
      async () =>
        (await client.list({ projectId: ids.projectId })).items.some((i) => i.pullRequest?.number === pr),
      { ...DEADLINE, message: 'the pull request link did not reach visibility' },
    );
    const payload = pullRequestEvent({ repository: REPO, number: pr, headRef: `work/${ids.workItemId}` });
    const res = await postWebhook(baseUrl, delivery('pull_request', payload, SECRET));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ outcome: 'merged', workItems: [{ ...ids, signalled: true }] });

    await waitFor(async () => !(await imageExists(docker, snapshot.imageId)), {
      ...DEADLINE,
      message: `image ${snapshot.image} is still on the engine after the merge`,
    });
    expect(await client.lookup(ids.projectId, ids.workItemId)).toBeNull();
    expect(await imageExists(docker, testEnv().baseImageId)).toBe(true);
  });

  it('docker stop: SIGTERM reaches node as PID 1 and both processes exit cleanly', async () => {
    for (const [container, last] of [
      [api, undefined],
      [worker, '"worker stopped"'],
    ] as const) {
      // A process that ignored SIGTERM would be killed after 30 s with exit code 137.
      await container.stop({ t: 30 });
      const { State } = await container.inspect();
      expect(State.ExitCode).toBe(0);
      if (last) expect(await containerLogs(container)).toContain(last);
    }
  });
});
