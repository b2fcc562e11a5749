import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How the workflow worker gets its workflow code, and where from (logged at start-up). */
export type WorkflowCodeSource =
  | { kind: 'prebuilt'; codePath: string }
  | { kind: 'bundle-at-start'; reason: 'source' }
  | { kind: 'bundle-at-start'; reason: 'no-prebuilt-bundle' | 'stale-prebuilt-bundle'; bundlePath: string };

/** The compiled directories whose code the bundle holds: a file newer than the bundle outdates it. */
const BUNDLED_DIRS = ['workflows', 'contract'];

/**
 * Where the workflow code comes from. The compiled worker (dist/src/worker/…, `node` in production)
 * loads dist/workflow-bundle.js, which `npm run build` made once, instead of running webpack at
 * every start. Run from the TypeScript sources (tsx: `npm run dev`, the tests) it always bundles
 * the sources, so a bundle left by an older build can never stand in for the code being edited.
 * A compiled worker without the bundle (tsc alone, not `npm run build`), or with a bundle older
 * than the compiled workflow code beside it (tsc run again after a build), bundles at start-up.
 */
export function workflowCodeSource(moduleUrl: string = import.meta.url): WorkflowCodeSource {
  if (moduleUrl.endsWith('.ts')) return { kind: 'bundle-at-start', reason: 'source' };
  // dist/src/worker/this.js → dist/workflow-bundle.js (scripts/build-workflow-bundle.ts writes it).
  const bundlePath = fileURLToPath(new URL('../../workflow-bundle.js', moduleUrl));
  if (!existsSync(bundlePath)) return { kind: 'bundle-at-start', reason: 'no-prebuilt-bundle', bundlePath };
  const compiledSrc = fileURLToPath(new URL('..', moduleUrl));
  // `>`, not `>=`: an installed package or an image may give every file the same time.
  if (newestFile(BUNDLED_DIRS.map((d) => join(compiledSrc, d))) > statSync(bundlePath).mtimeMs)
    return { kind: 'bundle-at-start', reason: 'stale-prebuilt-bundle', bundlePath };
  return { kind: 'prebuilt', codePath: bundlePath };
}

function newestFile(dirs: string[]): number {
  let newest = 0;
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}
