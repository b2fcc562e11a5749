// The client package as a router gets it: `npm pack` of the workspace (its prepack builds dist/),
// `npm install <tarball>` in an empty project outside the repository, then the router sequence run
// by a script of that project importing '@snapkeeper/client' the way a router does, against the API
// as its own process, a real worker, the dev server and the private engine: commit, register,
// lookup, merge webhook, miss, image gone. It prints and checks the package's goals: the install
// adds at most 2 MB of node_modules, and `import` takes at most 50 ms (median of child processes).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { SnapkeeperClient } from '@snapkeeper/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoPath } from '../../scripts/lib/repo-root.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { startInProcessWorker } from '../support/in-process-worker.js';
import { runContainerFrom } from '../support/containers.js';
import { imageExists } from '../support/snapshot-images.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { ApiProcess } from '../support/worker-process.js';
import { startListeningApi } from '../support/worker-process.js';
import { delivery, pullRequestEvent } from '../unit/api-github-payloads.js';
import { DEADLINE, postWebhook } from './api-helpers.js';

const run = promisify(execFile);

const RUN = randomUUID().slice(0, 8);
const HOST = `client-pkg-${RUN}`;
const REPO = `it-org/client-pkg-${RUN}`;
const SECRET = `client-pkg-secret-${RUN}`;
const TOKEN = `client-pkg-token-${RUN}`;

const MAX_INSTALL_BYTES = 2_000_000;
const MAX_IMPORT_MS = 50;
const IMPORT_RUNS = 9;

// The router's side, as a file of the scratch project: it resolves '@snapkeeper/client' from that
// project's node_modules, so nothing of the repository stands in for the installed package.
const ROUTER_SCRIPT = `
import { SnapkeeperClient, commitSnapshot, loadDocker } from '@snapkeeper/client';
const [step, ...args] = process.argv.slice(2);
const client = new SnapkeeperClient({ baseUrl: process.env.SNAPKEEPER_URL, token: process.env.SNAPKEEPER_TOKEN });
let out;
if (step === 'commit-register') {
  const [containerId, projectId, workItemId, repository, number] = args;
  const snapshot = await commitSnapshot(await loadDocker(), { containerId, projectId, workItemId });
  const registered = await client.register({
    projectId, workItemId, image: snapshot.image, pullRequest: { repository, number: Number(number) },
  });
  const hit = await client.lookup(projectId, workItemId);
  out = { resolved: import.meta.resolve('@snapkeeper/client'), snapshot, registered, hit };
} else if (step === 'lookup') {
  out = await client.lookupWithReason(args[0], args[1]);
} else {
  throw new Error('unknown step ' + step);
}
process.stdout.write(JSON.stringify(out));
`;

// One child process per sample: the time of the first `import` of the package, Node's start excluded.
const IMPORT_SCRIPT = `
const started = performance.now();
await import('@snapkeeper/client');
process.stdout.write(String(performance.now() - started));
`;

let scratch: string;
let worker: InProcessWorker;
let docker: Dockerode;
let api: ApiProcess;
let baseUrl: string;

beforeAll(async () => {
  docker = newDocker();
  scratch = await mkdtemp(join(tmpdir(), 'snapkeeper-client-pkg-'));
  worker = await startInProcessWorker({ hostId: HOST });
  ({ api, url: baseUrl } = await startListeningApi({
    env: {
      TEMPORAL_ADDRESS: testEnv().temporalAddress,
      SNAPKEEPER_HOST_ID: HOST,
      SNAPKEEPER_API_TOKEN: TOKEN,
      GITHUB_WEBHOOK_SECRET: SECRET,
    },
  }));
});

afterAll(async () => {
  await api?.stop();
  await worker?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Bytes of a directory as `du` counts them: apparent size (-b) and disk usage (blocks). */
async function du(path: string): Promise<{ apparent: number; disk: number }> {
  const apparent = Number((await run('du', ['-sb', path])).stdout.split('\t')[0]);
  const disk = Number((await run('du', ['-s', '--block-size=1', path])).stdout.split('\t')[0]);
  return { apparent, disk };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function router<T>(args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, [join(scratch, 'router.mjs'), ...args], {
    cwd: scratch,
    env: {
      PATH: process.env.PATH ?? '',
      SNAPKEEPER_URL: baseUrl,
      SNAPKEEPER_TOKEN: TOKEN,
      DOCKER_HOST: testEnv().dockerHost,
    },
    timeout: 90_000,
  });
  return JSON.parse(stdout) as T;
}

describe('the client package, packed and installed', () => {
  let tarball: string;
  let installBytes: { apparent: number; disk: number };

  it('packs dist, README, LICENSE and package.json only', async () => {
    const { stdout } = await run(
      'npm',
      ['pack', '--workspace', '@snapkeeper/client', '--pack-destination', scratch, '--json'],
      { cwd: repoPath(), timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
    );
    // npm prints the prepack build's output before the JSON.
    const [pack] = JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as Array<{
      filename: string;
      entryCount: number;
      size: number;
      files: Array<{ path: string }>;
    }>;
    const files = pack!.files.map((f) => f.path).sort();
    process.stdout.write(
      `client package: ${pack!.filename}, ${pack!.entryCount} files, ${pack!.size} bytes packed\n  ${files.join('\n  ')}\n`,
    );
    expect(files.filter((f) => !/^(dist\/.+\.(js|d\.ts)|README\.md|LICENSE|package\.json)$/.test(f))).toEqual(
      [],
    );
    expect(files).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'LICENSE', 'README.md']),
    );
    tarball = join(scratch, pack!.filename);
  });

  it(`installs offline in an empty project, adding at most ${MAX_INSTALL_BYTES} bytes of node_modules`, async () => {
    expect(tarball).toBeDefined();
    await writeFile(
      join(scratch, 'package.json'),
      JSON.stringify({ name: 'router-probe', private: true, type: 'module' }),
    );
    await run('npm', ['install', tarball, '--offline', '--no-audit', '--no-fund'], {
      cwd: scratch,
      timeout: 120_000,
    });
    const manifest = JSON.parse(await readFile(join(scratch, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.dependencies)).toEqual(['@snapkeeper/client']);
    // Measured before dockerode is linked in below: the optional peer is the router's own choice.
    installBytes = await du(join(scratch, 'node_modules'));
    process.stdout.write(
      `client package: npm install adds ${installBytes.apparent} bytes apparent, ${installBytes.disk} bytes on disk of node_modules (goal <= ${MAX_INSTALL_BYTES})\n`,
    );
    expect(Math.max(installBytes.apparent, installBytes.disk)).toBeLessThanOrEqual(MAX_INSTALL_BYTES);
  });

  it(`imports in at most ${MAX_IMPORT_MS} ms (median of ${IMPORT_RUNS} processes)`, async () => {
    expect(installBytes).toBeDefined();
    await writeFile(join(scratch, 'measure-import.mjs'), IMPORT_SCRIPT);
    const samples: number[] = [];
    for (let i = 0; i < IMPORT_RUNS; i++) {
      const { stdout } = await run(process.execPath, [join(scratch, 'measure-import.mjs')], { cwd: scratch });
      samples.push(Number(stdout));
    }
    const ms = median(samples);
    process.stdout.write(
      `client package: import median ${ms.toFixed(1)} ms of [${samples.map((s) => s.toFixed(1)).join(', ')}] (goal <= ${MAX_IMPORT_MS})\n`,
    );
    expect(ms).toBeLessThanOrEqual(MAX_IMPORT_MS);
  });

  it('runs the router sequence: commit, register, lookup, merge webhook, miss, image gone', async () => {
    expect(installBytes).toBeDefined();
    // dockerode, the optional peer, from the repository's node_modules (no registry needed).
    await symlink(repoPath('node_modules', 'dockerode'), join(scratch, 'node_modules', 'dockerode'), 'dir');
    await writeFile(join(scratch, 'router.mjs'), ROUTER_SCRIPT);
    const ids = uniqueIds('client-pkg');
    const pr = 7;

    // A job ran from the base image; the router commits its container and registers the snapshot.
    const job = await runContainerFrom(docker, testEnv().baseImage);
    let first;
    try {
      first = await router<{
        resolved: string;
        snapshot: { image: string; imageId: string };
        registered: { outcome: string; snapshot: { image: string; imageId: string; state: string } };
        hit: { image: string } | null;
      }>(['commit-register', job.id, ids.projectId, ids.workItemId, REPO, String(pr)]);
    } finally {
      await job.stop();
    }
    expect(first.resolved).toBe(
      new URL(`file://${join(scratch, 'node_modules/@snapkeeper/client/dist/index.js')}`).href,
    );
    expect(first.registered.outcome).toBe('created');
    expect(first.registered.snapshot).toMatchObject({
      image: first.snapshot.image,
      imageId: first.snapshot.imageId,
      state: 'active',
    });
    expect(first.hit?.image).toBe(first.snapshot.image);
    expect(await imageExists(docker, first.snapshot.imageId)).toBe(true);

    // The pull request merges; GitHub sends the webhook (once the link is visible to the API, as
    // router-sequence.test.ts waits: the test's timing, not the router's, so the repository's client).
    const watcher = new SnapkeeperClient({ baseUrl, token: TOKEN });
    await waitFor(
      async () =>
        (await watcher.list({ projectId: ids.projectId })).items.some((i) => i.pullRequest?.number === pr),
      { ...DEADLINE, message: 'the pull request link did not reach visibility' },
    );
    const payload = pullRequestEvent({ repository: REPO, number: pr, headRef: `work/${ids.workItemId}` });
    const res = await postWebhook(baseUrl, delivery('pull_request', payload, SECRET));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ outcome: 'merged', workItems: [{ ...ids, signalled: true }] });

    // The router's next lookup misses, and the image leaves the engine.
    const miss = await waitFor(
      async () => {
        const answer = await router<{ snapshot: unknown; miss?: { code: string } }>([
          'lookup',
          ids.projectId,
          ids.workItemId,
        ]);
        return answer.snapshot === null ? answer : undefined;
      },
      { ...DEADLINE, intervalMs: 500, message: 'the lookup still hits after the merge' },
    );
    expect(miss.miss?.code).toBe('SnapshotNotFound');
    await waitFor(async () => !(await imageExists(docker, first.snapshot.imageId)), {
      ...DEADLINE,
      message: `image ${first.snapshot.image} is still on the engine after the merge`,
    });
  });
});
