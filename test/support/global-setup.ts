import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureBaseImage } from '../../scripts/lib/base-image.js';
import type { DockerEngine } from '../../scripts/lib/docker-engine.js';
import { startDockerEngine } from '../../scripts/lib/docker-engine.js';
import { ensureTemporal } from '../../scripts/lib/ensure-temporal.js';
import type { HarnessContext } from './provided-context.js';
import { HARNESS_KEYS } from './provided-context.js';
import { imageExists, makeSnapshotImage } from './snapshot-images.js';
import { writeWorkflowBundle } from './workflow-bundle.js';
import { newDocker } from './test-env.js';
import type { TestTemporal } from './test-temporal.js';
import { startTestTemporal, testTemporalKind } from './test-temporal.js';

export const BASE_IMAGE = 'snapkeeper-test/base:latest';
export const CANARY_IMAGE = 'snapkeeper-test/canary:latest';
export const TEST_NAMESPACES = ['default', 'snapkeeper-durability'];

const log = (message: string) => process.stderr.write(`[harness] ${message}\n`);

/**
 * One private Docker engine and one Temporal server for the whole integration run, shared by all
 * test files (each file uses its own ids and Docker host id). The server is the CLI's dev server,
 * or with SNAPKEEPER_TEST_TEMPORAL=cluster the real server on PostgreSQL. Teardown fails the run if the
 * base or the canary image is gone: snapkeeper must never remove an image it does not manage.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const kind = testTemporalKind();
  const workDir = await mkdtemp(join(tmpdir(), 'snapkeeper-it-'));
  // The cluster's PostgreSQL runs as its own user (as root) and must pass through the work dir.
  if (kind === 'cluster') await chmod(workDir, 0o711);
  let engine: DockerEngine | undefined;
  let server: TestTemporal | undefined;

  const cleanUp = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const step of [
      () => server?.stop(),
      () => engine?.stop(),
      () => rm(workDir, { recursive: true, force: true }),
    ]) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'harness teardown failed');
  };

  try {
    // allSettled, not all: whatever did start must be known to cleanUp even if its sibling failed.
    const [binariesResult, engineResult] = await Promise.allSettled([
      timed('ensure-temporal', () => ensureTemporal()),
      timed('docker engine start', () => startDockerEngine(join(workDir, 'engine'))),
    ]);
    if (engineResult.status === 'fulfilled') engine = engineResult.value;
    const binaries = settled(binariesResult);
    const dockerHost = settled(engineResult).dockerHost;
    const docker = newDocker(dockerHost);

    const [imagesResult, serverResult, bundleResult] = await Promise.allSettled([
      timed('base + canary images', async () => {
        const baseImageId = await ensureBaseImage(dockerHost, BASE_IMAGE);
        const canary = await makeSnapshotImage(docker, {
          projectId: 'canary',
          workItemId: 'canary',
          labels: 'none',
          fromImage: BASE_IMAGE,
          tag: CANARY_IMAGE,
        });
        return { baseImageId, canary };
      }),
      timed(`temporal ${kind === 'cluster' ? 'cluster (PostgreSQL)' : 'dev server'} start`, () =>
        startTestTemporal({
          kind,
          dir: join(workDir, 'temporal'),
          temporalCliPath: binaries.temporalCliPath,
          namespaces: TEST_NAMESPACES,
        }),
      ),
      timed('workflow bundle', () => writeWorkflowBundle(join(workDir, 'workflow-bundle.js'), log)),
    ]);
    if (serverResult.status === 'fulfilled') server = serverResult.value;
    const { baseImageId, canary } = settled(imagesResult);
    const devServer = settled(serverResult);
    const workflowBundlePath = settled(bundleResult);

    if (!binaries.tctlPath && process.env.SNAPKEEPER_REQUIRE_TCTL === '1')
      throw new Error(
        'SNAPKEEPER_REQUIRE_TCTL=1 but tctl could not be built (scripts/ensure-temporal.sh tctl)',
      );

    const context: HarnessContext = {
      temporalKind: kind,
      temporalAddress: devServer.address,
      temporalHttpAddress: devServer.httpAddress,
      dockerHost,
      temporalCliPath: binaries.temporalCliPath,
      tctlPath: binaries.tctlPath,
      baseImage: BASE_IMAGE,
      baseImageId,
      canaryImage: CANARY_IMAGE,
      canaryImageId: canary.imageId,
      devServerDbFile: devServer.dbFile,
      temporalNamespaces: TEST_NAMESPACES,
      workDir,
      workflowBundlePath,
    };
    for (const key of HARNESS_KEYS) provide(project, key, context);
    log(`ready in ${Date.now() - started} ms: temporal (${kind}) ${devServer.address}, docker ${dockerHost}`);

    return async () => {
      let survivors: Error | undefined;
      try {
        const gone: string[] = [];
        for (const [what, id] of [
          ['base image', baseImageId],
          ['canary image', canary.imageId],
        ] as const) {
          if (!(await imageExists(docker, id))) gone.push(`${what} ${id}`);
        }
        if (gone.length > 0)
          survivors = new Error(`unmanaged images were removed during the run: ${gone.join(', ')}`);
      } finally {
        await cleanUp();
      }
      if (survivors) {
        // vitest only logs an error thrown by a global teardown ("error during close") and exits
        // 0; a removed canary must fail the run.
        process.exitCode = 1;
        throw survivors;
      }
    };
  } catch (err) {
    await cleanUp().catch((cleanupErr: unknown) =>
      log(`clean-up after a failed setup also failed: ${String(cleanupErr)}`),
    );
    throw err;
  }
}

function settled<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

// A generic key keeps `provide` typed per key without a cast.
function provide<K extends keyof HarnessContext>(
  project: TestProject,
  key: K,
  context: HarnessContext,
): void {
  project.provide(key, context[key]);
}

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  const result = await fn();
  log(`${what}: ${Date.now() - start} ms`);
  return result;
}
