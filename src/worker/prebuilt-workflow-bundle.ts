import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** How the workflow worker gets its workflow code, and where from (logged at start-up). */
export type WorkflowCodeSource =
  | { kind: 'prebuilt'; codePath: string }
  | { kind: 'bundle-at-start'; reason: 'source' | 'no-prebuilt-bundle'; missing?: string };

/**
 * Where the workflow code comes from. The compiled worker (dist/src/worker/…, `node` in production)
 * loads dist/workflow-bundle.js, which `npm run build` made once, instead of running webpack at
 * every start. Run from the TypeScript sources (tsx: `npm run dev`, the tests) it always bundles
 * the sources, so a bundle left by an older build can never stand in for the code being edited.
 * A compiled worker without the bundle (tsc alone, not `npm run build`) still works, slowly.
 */
export function workflowCodeSource(moduleUrl: string = import.meta.url): WorkflowCodeSource {
  if (moduleUrl.endsWith('.ts')) return { kind: 'bundle-at-start', reason: 'source' };
  // dist/src/worker/this.js → dist/workflow-bundle.js (scripts/build-workflow-bundle.ts writes it).
  const codePath = fileURLToPath(new URL('../../workflow-bundle.js', moduleUrl));
  if (existsSync(codePath)) return { kind: 'prebuilt', codePath };
  return { kind: 'bundle-at-start', reason: 'no-prebuilt-bundle', missing: codePath };
}
