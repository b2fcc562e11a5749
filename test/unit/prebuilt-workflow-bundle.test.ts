import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { workflowCodeSource } from '../../src/worker/prebuilt-workflow-bundle.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'snapkeeper-bundle-'));
  await mkdir(join(root, 'dist', 'src', 'worker'), { recursive: true });
});
afterEach(() => rm(root, { recursive: true, force: true }));

const compiledModule = () => pathToFileURL(join(root, 'dist', 'src', 'worker', 'create-workers.js')).href;

describe('workflowCodeSource', () => {
  it('the compiled worker loads dist/workflow-bundle.js when the build made it', async () => {
    await writeFile(join(root, 'dist', 'workflow-bundle.js'), '// bundle');
    expect(workflowCodeSource(compiledModule())).toEqual({
      kind: 'prebuilt',
      codePath: join(root, 'dist', 'workflow-bundle.js'),
    });
  });

  it('the compiled worker without the bundle bundles at start-up and names what is missing', () => {
    expect(workflowCodeSource(compiledModule())).toEqual({
      kind: 'bundle-at-start',
      reason: 'no-prebuilt-bundle',
      missing: join(root, 'dist', 'workflow-bundle.js'),
    });
  });

  it('the sources (tsx) always bundle, even beside a bundle left by an earlier build', async () => {
    await writeFile(join(root, 'dist', 'workflow-bundle.js'), '// stale');
    const source = pathToFileURL(join(root, 'src', 'worker', 'create-workers.ts')).href;
    expect(workflowCodeSource(source)).toEqual({ kind: 'bundle-at-start', reason: 'source' });
    // And this very module, as vitest runs it, is a source module.
    expect(workflowCodeSource()).toEqual({ kind: 'bundle-at-start', reason: 'source' });
  });
});
