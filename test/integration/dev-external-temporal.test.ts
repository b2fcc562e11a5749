// `npm run dev` pointed at an existing Temporal (TEMPORAL_ADDRESS) builds nothing and needs no Go
// toolchain: here it runs with an empty binary cache and without `go` on PATH, against the run's
// shared server and private engine, and must still bring the worker and the API up.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../scripts/lib/free-port.js';
import type { ManagedChild } from '../../scripts/lib/managed-child.js';
import { startChild } from '../../scripts/lib/managed-child.js';
import { REPO_ROOT, repoPath } from '../../scripts/lib/repo-root.js';
import { testEnv } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';

let dev: ManagedChild | undefined;
let cacheDir: string | undefined;

afterAll(async () => {
  await dev?.stop({ signal: 'SIGINT', timeoutMs: 30_000 });
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

describe('npm run dev with TEMPORAL_ADDRESS', () => {
  it('starts the worker and the API without building anything or needing Go', async () => {
    const env = testEnv();
    cacheDir = await mkdtemp(join(tmpdir(), 'snapkeeper-empty-cache-'));
    const pathWithoutGo = (process.env.PATH ?? '')
      .split(delimiter)
      .filter((dir) => dir && !existsSync(join(dir, 'go')))
      .join(delimiter);
    const apiPort = await findFreePort();
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !['DOCKER_', 'TEMPORAL_', 'SNAPKEEPER_', 'GITHUB_'].some((p) => key.startsWith(p)),
      ),
    );
    dev = await startChild({
      name: 'npm run dev',
      command: process.execPath,
      args: ['--import', 'tsx', repoPath('scripts', 'dev.ts')],
      cwd: REPO_ROOT,
      env: {
        ...inherited,
        PATH: pathWithoutGo,
        SNAPKEEPER_CACHE_DIR: cacheDir,
        TEMPORAL_ADDRESS: env.temporalAddress,
        DOCKER_HOST: env.dockerHost,
        SNAPKEEPER_HOST_ID: `dev-external-${randomUUID().slice(0, 8)}`,
        SNAPKEEPER_PORT: String(apiPort),
        SNAPKEEPER_API_TOKEN: `token-${randomUUID()}`,
        SNAPKEEPER_WORKER_METRICS_PORT: '0',
        SNAPKEEPER_RECONCILE_INTERVAL: '24h',
      },
    });
    await waitFor(async () => dev?.logs().includes('snapkeeper is running') || dev?.exitStatus(), {
      timeoutMs: 120_000,
      message: 'npm run dev did not come up',
    });
    expect(dev.exitStatus(), dev.logs()).toBeUndefined();
    expect(dev.logs()).toContain(`using the Temporal server at ${env.temporalAddress}`);
    expect(dev.logs()).not.toMatch(/building|ensure-temporal/i);
    expect(await readdir(cacheDir)).toEqual([]);
    const health = await fetch(`http://127.0.0.1:${apiPort}/readyz`);
    expect(health.status).toBe(200);

    const exit = await dev.stop({ signal: 'SIGINT', timeoutMs: 30_000 });
    expect(exit.code).toBe(0);
  });
});
