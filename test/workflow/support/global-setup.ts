import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { repoPath } from '../../../scripts/lib/repo-root.js';
import { runScript } from '../../../scripts/lib/run-script.js';
import { webpackConfigHook, workflowsPath } from '../../../src/worker/workflow-bundle-options.js';
import { provideSpecContext } from './provided-context.js';

const log = (message: string) => process.stderr.write(`[workflow-spec] ${message}\n`);

/**
 * Once per run: the time-skipping test server (resolved with Maven the first time, then cached)
 * and one bundle of the real workflow code, which every spec file's worker loads instead of
 * bundling again. Each file starts its own test server: time skipping is global to a server.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const testServerPath = await runScript(repoPath('scripts', 'ensure-test-server.sh'), [], {
    passStderr: true,
  });
  const { code } = await bundleWorkflowCode({ workflowsPath, webpackConfigHook, logger: quietLogger });
  const dir = await mkdtemp(join(tmpdir(), 'snapkeeper-workflow-spec-'));
  const workflowBundlePath = join(dir, 'workflow-bundle.js');
  await writeFile(workflowBundlePath, code);
  provideSpecContext(project, { testServerPath, workflowBundlePath });
  log(`test server and workflow bundle ready in ${Date.now() - started} ms`);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}

// The bundler reports every module at info level; only trouble is worth showing.
const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string, meta?: Record<string, unknown>) =>
    log(`warn: ${message} ${JSON.stringify(meta ?? {})}`),
  error: (message: string, meta?: Record<string, unknown>) =>
    log(`error: ${message} ${JSON.stringify(meta ?? {})}`),
};
