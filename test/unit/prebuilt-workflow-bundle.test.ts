import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { workflowCodeSource } from '../../src/worker/prebuilt-workflow-bundle.js';

let root: string;
let bundlePath: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'snapkeeper-bundle-'));
  bundlePath = join(root, 'dist', 'workflow-bundle.js');
  for (const dir of ['worker', 'workflows', 'contract'])
    await mkdir(join(root, 'dist', 'src', dir), { recursive: true });
});
afterEach(() => rm(root, { recursive: true, force: true }));

const compiledModule = () => pathToFileURL(join(root, 'dist', 'src', 'worker', 'create-workers.js')).href;

/** Writes a file with the given modification time (seconds since the epoch). */
async function writeAt(path: string, seconds: number): Promise<void> {
  await writeFile(path, '// code');
  await utimes(path, seconds, seconds);
}

describe('workflowCodeSource', () => {
  it('the compiled worker loads dist/workflow-bundle.js when the build made it after the code', async () => {
    await writeAt(join(root, 'dist', 'src', 'workflows', 'index.js'), 1000);
    await writeAt(join(root, 'dist', 'src', 'contract', 'names.js'), 1000);
    await writeAt(bundlePath, 1001);
    expect(workflowCodeSource(compiledModule())).toEqual({ kind: 'prebuilt', codePath: bundlePath });
    // An image or an installed package may give every file one time: still the bundle.
    await writeAt(bundlePath, 1000);
    expect(workflowCodeSource(compiledModule())).toMatchObject({ kind: 'prebuilt' });
  });

  it('the compiled worker without the bundle bundles at start-up and names what is missing', () => {
    expect(workflowCodeSource(compiledModule())).toEqual({
      kind: 'bundle-at-start',
      reason: 'no-prebuilt-bundle',
      bundlePath,
    });
  });

  it('a bundle older than the compiled workflow or contract code (tsc run again) is not used', async () => {
    await writeAt(bundlePath, 1000);
    await writeAt(join(root, 'dist', 'src', 'workflows', 'index.js'), 999);
    await mkdir(join(root, 'dist', 'src', 'contract', 'deep'), { recursive: true });
    await writeAt(join(root, 'dist', 'src', 'contract', 'deep', 'limits.js'), 1002);
    expect(workflowCodeSource(compiledModule())).toEqual({
      kind: 'bundle-at-start',
      reason: 'stale-prebuilt-bundle',
      bundlePath,
    });
  });

  it('the sources (tsx) always bundle, even beside a bundle left by an earlier build', async () => {
    await writeAt(bundlePath, 2000);
    const source = pathToFileURL(join(root, 'src', 'worker', 'create-workers.ts')).href;
    expect(workflowCodeSource(source)).toEqual({ kind: 'bundle-at-start', reason: 'source' });
    // And this very module, as vitest runs it, is a source module.
    expect(workflowCodeSource()).toEqual({ kind: 'bundle-at-start', reason: 'source' });
  });
});
