// The layer rules of eslint.config.js, checked on small snippets placed in each layer: an import
// that points the wrong way fails lint, the intended ones pass. The repository itself is held to
// them by `npm run lint` (part of `npm test`).
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport const used = x;\n`, { filePath });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
    .map((m) => m.message);
}

const refused: Array<[file: string, code: string]> = [
  ['src/contract/x.ts', "import { x } from '../service/list-snapshots.js';"],
  ['src/contract/x.ts', "import { x } from 'node:crypto';"],
  ['src/workflows/x.ts', "import { x } from '../activities/budget-control-activities.js';"],
  ['src/workflows/x.ts', "import { x } from '../service/snapshot-service.js';"],
  ['src/workflows/x.ts', "import { x } from 'node:fs';"],
  ['src/workflows/x.ts', "import { x } from '@temporalio/client';"],
  ['src/workflows/budget/x.ts', "import { x } from '../../service/snapshot-service.js';"],
  ['src/workflows/budget/x.ts', "import { x } from '../../activities/budget-control-activities.js';"],
  ['src/activities/x.ts', "import type { x } from '../workflows/budget/workflow.js';"],
  ['src/activities/x.ts', "import type { x } from '../worker/worker-metrics.js';"],
  ['src/docker/x.ts', "import { x } from '../activities/heartbeat.js';"],
  ['src/service/x.ts', "import { x } from '../workflows/budget/policy.js';"],
  ['src/service/x.ts', "import { x } from '../activities/reconcile-control-activities.js';"],
  ['src/api/x.ts', "import { x } from '../worker/create-workers.js';"],
  ['src/api/routes/x.ts', "import type { x } from '../../workflows/reconcile-workflow.js';"],
  ['src/cli/commands/x.ts', "import type { x } from '../../workflows/reconcile-workflow.js';"],
  ['packages/client/src/x.ts', "import type { x } from '../../../src/contract/snapshot-types.js';"],
  ['packages/client/src/x.ts', "import { x } from 'dockerode';"],
  ['packages/client/src/x.ts', "import { x } from '@temporalio/client';"],
  ['src/config/x.ts', "import { x } from '../service/list-snapshots.js';"],
  ['src/index.ts', "export { x } from './service/list-snapshots.js'; import { x } from './worker/main.js';"],
  ['src/index.ts', "export { x } from '@temporalio/client';"],
];

const allowed: Array<[file: string, code: string]> = [
  ['src/contract/x.ts', "import { x } from './names.js'; import { y } from '@temporalio/workflow';"],
  ['src/workflows/x.ts', "import { x } from '../contract/messages.js'; import { y } from './owners.js';"],
  ['src/workflows/x.ts', "import type { x } from '../activities/docker-activities.js';"],
  [
    'src/workflows/budget/x.ts',
    "import { x } from '../../contract/messages.js'; import { y } from '../shared/activity-profiles.js';",
  ],
  ['src/workflows/budget/x.ts', "import type { x } from '../../activities/budget-host-activities.js';"],
  [
    'src/activities/x.ts',
    "import { x } from '../contract/names.js'; import type { y } from '../docker/docker-port.js';",
  ],
  ['src/activities/x.ts', "import { x } from '../service/signal-open.js';"],
  ['src/service/x.ts', "import type { x } from '../workflows/snapshot/workflow.js';"],
  [
    'src/api/routes/x.ts',
    "import { x } from '../../service/list-snapshots.js'; import { y } from '../deps.js';",
  ],
  ['src/cli/commands/x.ts', "import { x } from '../../service/run-reconcile.js';"],
  ['packages/client/src/x.ts', "import type { x } from './contract.js';"],
  [
    'src/worker/x.ts',
    "import { x } from '../activities/index.js'; import type { y } from '../workflows/budget/workflow.js';",
  ],
  ['src/index.ts', "export { x } from '@snapkeeper/client'; import { y } from './contract/names.js';"],
];

describe('import boundaries (eslint.config.js)', () => {
  // Loading the config and the TypeScript parser takes seconds on a busy machine; once is enough.
  beforeAll(() => eslint.lintText('', { filePath: 'src/index.ts' }), 60_000);

  it.each(refused)('refuses in %s: %s', async (file, code) => {
    expect(await boundaryErrors(file, code)).not.toEqual([]);
  });

  it.each(allowed)('allows in %s: %s', async (file, code) => {
    expect(await boundaryErrors(file, code)).toEqual([]);
  });
});
