import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { webpackConfigHook, workflowsPath } from '../../src/worker/workflow-bundle-options.js';

/**
 * Bundles the real workflow code once into `path`, as a worker would at start-up, for every worker
 * of the run to load (`workflowBundle: { codePath }`). The bundler reports every module at info
 * level: only its warnings and errors go to `log`.
 */
export async function writeWorkflowBundle(path: string, log: (message: string) => void): Promise<string> {
  const tell = (level: string) => (message: string, meta?: Record<string, unknown>) =>
    log(`workflow bundle: ${level}: ${message} ${JSON.stringify(meta ?? {})}`);
  const silent = () => undefined;
  const logger = {
    log: silent,
    trace: silent,
    debug: silent,
    info: silent,
    warn: tell('warn'),
    error: tell('error'),
  };
  const { code } = await bundleWorkflowCode({ workflowsPath, webpackConfigHook, logger });
  await writeFile(path, code);
  return path;
}
