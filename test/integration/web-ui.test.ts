// The Temporal Web UI in a real browser (Debian's Chromium through playwright-core): an operator
// filters on snapkeeper's search attributes, finds the snapshot's row, opens it, and reads what the
// snapshot is (the summary) and where it stands (the current details). The shared dev server runs
// headless, so this file starts a dev server with its UI, and workers against it, of its own.
// Screenshots land in test-results/web-ui/ (git-ignored).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import type { BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoPath } from '../../scripts/lib/repo-root.js';
import { loadConfig } from '../../src/config/config.js';
import { createDockerPort, createDockerode } from '../../src/docker/dockerode-adapter.js';
import { createLogger } from '../../src/logging/logger.js';
import type { SnapshotService } from '../../src/service/snapshot-service.js';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import { createWorkers } from '../../src/worker/create-workers.js';
import type { DevServer } from '../support/temporal-dev-server.js';
import { startDevServer } from '../support/temporal-dev-server.js';
import { TEST_WORKFLOW_OPTIONS } from '../support/in-process-worker.js';
import type { RunningContainer } from '../support/snapshot-images.js';
import { imageExists, makeSnapshotImage, runContainerFrom } from '../support/snapshot-images.js';
import { newDocker, testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = repoPath('test-results', 'web-ui');
const UI_DEADLINE = 60_000;

let server: DevServer;
let workDir: string;
let browser: BrowserContext;
let connection: Connection;
let client: Client;
let service: SnapshotService;
let workers: Worker[] = [];
let running: Promise<unknown> | undefined;
let native: NativeConnection;
const hostId = `webui-${Date.now().toString(36)}`;
const docker = () => newDocker(testEnv().dockerHost);
const registered: Array<{ projectId: string; workItemId: string; imageId: string }> = [];
const containers: RunningContainer[] = [];

beforeAll(async () => {
  const env = testEnv();
  workDir = await mkdtemp(join(tmpdir(), 'snapkeeper-webui-'));
  server = await startDevServer({
    cliPath: env.temporalCliPath,
    dbFile: join(workDir, 'dev.sqlite'),
    headless: false,
  });
  const config = loadConfig({
    TEMPORAL_ADDRESS: server.address,
    DOCKER_HOST: env.dockerHost,
    SNAPKEEPER_HOST_ID: hostId,
    SNAPKEEPER_LOG_LEVEL: 'warn',
  });
  native = await NativeConnection.connect({ address: server.address });
  workers = await createWorkers({
    config,
    connection: native,
    docker: createDockerPort(createDockerode(env.dockerHost)),
    log: createLogger({ level: 'warn', name: `test-${hostId}` }),
    // The run's one workflow bundle (the global setup's).
    workflowBundle: { codePath: env.workflowBundlePath },
  });
  running = Promise.all(workers.map((w) => w.run()));
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: 'default' });
  service = createSnapshotService({
    client,
    defaultTtlSeconds: 3600,
    workflowOptions: TEST_WORKFLOW_OPTIONS,
  });
  await mkdir(SCREENSHOTS, { recursive: true });
  browser = await chromium.launchPersistentContext(join(workDir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1600, height: 1000 },
  });
}, 240_000);

afterAll(async () => {
  const errors: unknown[] = [];
  const attempt = async (step: () => Promise<unknown>) => {
    try {
      await step();
    } catch (err) {
      errors.push(err);
    }
  };
  await attempt(async () => browser?.close());
  for (const c of containers) await attempt(() => c.stop());
  // The images live on the shared engine: leave none behind.
  for (const r of registered) {
    await attempt(() => service.invalidate(r.projectId, r.workItemId, 'web UI test done'));
    await attempt(() =>
      waitFor(async () => !(await imageExists(docker(), r.imageId)), {
        timeoutMs: 60_000,
        message: `image ${r.imageId} was not removed`,
      }),
    );
  }
  for (const w of workers) w.shutdown();
  await attempt(async () => running);
  await attempt(async () => native?.close());
  await attempt(async () => connection?.close());
  await attempt(async () => server?.stop());
  await attempt(() => rm(workDir, { recursive: true, force: true }));
  if (errors.length > 0) throw new AggregateError(errors, 'web UI test clean-up failed');
}, 240_000);

async function register(prefix: string) {
  const ids = uniqueIds(prefix);
  const img = await makeSnapshotImage(docker(), ids);
  await service.register({ ...ids, image: img.image, host: hostId });
  registered.push({ ...ids, imageId: img.imageId });
  return { ids, ...img, workflowId: snapshotWorkflowId(ids.projectId, ids.workItemId) };
}

/** The workflow list filtered by a visibility query; reloads until the row shows (visibility lags). */
async function findRow(page: Page, query: string, workflowId: string): Promise<void> {
  const url = `http://127.0.0.1:${server.uiPort}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;
  await waitFor(
    async () => {
      await page.goto(url);
      const link = page.getByRole('link', { name: workflowId, exact: true });
      await link.first().waitFor({ state: 'visible', timeout: 10_000 });
      return true;
    },
    {
      timeoutMs: UI_DEADLINE,
      intervalMs: 1_000,
      message: `the Web UI did not list ${workflowId} for ${query}`,
    },
  );
}

/** The text of the page and of its frames: the UI renders summaries and details (markdown) in iframes. */
async function pageText(page: Page): Promise<string> {
  const parts: string[] = [];
  for (const frame of page.frames()) {
    try {
      parts.push(await frame.locator('body').innerText({ timeout: 2_000 }));
    } catch {
      // A frame that is being replaced; the next look reads its successor.
    }
  }
  return parts.join('\n');
}

/** Opens the workflow from its row, then its User Metadata tab; returns the text once `texts` show. */
async function openAndRead(page: Page, workflowId: string, texts: string[]): Promise<string> {
  await page.getByRole('link', { name: workflowId, exact: true }).first().click();
  await page.waitForURL(/\/workflows\/.+\/.+/, { timeout: UI_DEADLINE });
  try {
    // The summary and the current details live on the workflow's User Metadata tab.
    await page.getByText('User Metadata', { exact: true }).first().click({ timeout: UI_DEADLINE });
    await page.waitForURL(/metadata/, { timeout: UI_DEADLINE });
    return await waitFor(
      async () => {
        const text = await pageText(page);
        return texts.every((t) => text.includes(t)) ? text : null;
      },
      {
        timeoutMs: UI_DEADLINE,
        intervalMs: 500,
        message: `the workflow page did not show ${JSON.stringify(texts)}`,
      },
    );
  } catch (err) {
    // What the page did show, for whoever reads the failure.
    const stamp = Date.now();
    await page.screenshot({ path: join(SCREENSHOTS, `failed-${stamp}.png`), fullPage: true });
    await writeFile(join(SCREENSHOTS, `failed-${stamp}.txt`), `${page.url()}\n${await pageText(page)}`);
    throw err;
  }
}

describe('the Web UI shows what a snapshot is and where it stands', () => {
  it(
    'an active snapshot: found by project and state, its summary and current details',
    { timeout: 300_000 },
    async () => {
      const snap = await register('webui-active');
      const page = await browser.newPage();
      try {
        const query = `SnapshotProjectId="${snap.ids.projectId}" AND SnapshotState="active"`;
        await findRow(page, query, snap.workflowId);
        await page.screenshot({ path: join(SCREENSHOTS, 'active-list.png'), fullPage: true });
        const text = await openAndRead(page, snap.workflowId, [
          `Snapshot of work item ${snap.ids.workItemId} in project ${snap.ids.projectId}`,
          snap.image,
        ]);
        await page.screenshot({ path: join(SCREENSHOTS, 'active-workflow.png'), fullPage: true });
        expect(text).toContain(
          `Snapshot of work item ${snap.ids.workItemId} in project ${snap.ids.projectId}`,
        );
        expect(text).toMatch(/active\s*·\s*/);
        expect(text).toContain(snap.image);
        expect(text).toContain(hostId);
        expect(text).toContain('expires:');
      } finally {
        await page.close();
      }
    },
  );

  it(
    'a removal-blocked snapshot: its current details name the container that keeps the image',
    { timeout: 300_000 },
    async () => {
      const snap = await register('webui-blocked');
      const container = await runContainerFrom(docker(), snap.image);
      containers.push(container);
      await service.invalidate(snap.ids.projectId, snap.ids.workItemId, 'tests failed');
      const page = await browser.newPage();
      try {
        const query = `SnapshotProjectId="${snap.ids.projectId}" AND SnapshotState="removal-blocked"`;
        await findRow(page, query, snap.workflowId);
        await page.screenshot({ path: join(SCREENSHOTS, 'blocked-list.png'), fullPage: true });
        const text = await openAndRead(page, snap.workflowId, [
          'removal-blocked',
          'blocked: in use by container',
        ]);
        await page.screenshot({ path: join(SCREENSHOTS, 'blocked-workflow.png'), fullPage: true });
        expect(text).toContain(
          `Snapshot of work item ${snap.ids.workItemId} in project ${snap.ids.projectId}`,
        );
        expect(text).toContain(`blocked: in use by container(s) ${container.id.slice(0, 12)}`);
        expect(text).toContain('ended: invalidated (tests failed)');
        expect(text).toContain(snap.image);
      } finally {
        await page.close();
      }
      // Once the container is gone the removal completes.
      await container.stop();
      await waitFor(async () => !(await imageExists(docker(), snap.imageId)), {
        timeoutMs: 60_000,
        message: 'the blocked image was not removed after its container went',
      });
    },
  );
});
