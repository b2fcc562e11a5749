// The second half of `npm run build`: bundles the workflow code once, at build time, into
// dist/workflow-bundle.js, which the compiled worker loads (src/worker/prebuilt-workflow-bundle.ts)
// instead of running webpack at every start. It bundles the TypeScript sources with the same
// options the tests and the replay test use (src/worker/workflow-bundle-options.ts), so the code a
// production worker runs is the code they exercised.
//   npx tsx scripts/build-workflow-bundle.ts [OUT_FILE]
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { webpackConfigHook, workflowsPath } from '../src/worker/workflow-bundle-options.js';
import { repoPath } from './lib/repo-root.js';

const out = process.argv[2] ?? repoPath('dist', 'workflow-bundle.js');
const started = Date.now();
const { code } = await bundleWorkflowCode({
  workflowsPath,
  webpackConfigHook,
  // The bundler's own progress lines are noise in a build log; its errors still throw.
  logger: {
    log: () => undefined,
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (message) => process.stderr.write(`build-workflow-bundle: ${message}\n`),
    error: (message) => process.stderr.write(`build-workflow-bundle: ${message}\n`),
  },
});
await mkdir(dirname(out), { recursive: true });
await writeFile(out, code);
process.stdout.write(
  `workflow bundle: ${out} (${(code.length / 1024).toFixed(0)} KiB, ${Date.now() - started} ms)\n`,
);
