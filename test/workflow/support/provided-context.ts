// What the workflow project's global set-up hands to every spec file (vitest `provide` / `inject`).
import type { TestProject } from 'vitest/node';
import { inject } from 'vitest';

export interface WorkflowSpecContext {
  /** The wrapper that starts Temporal's Java time-skipping test server (scripts/ensure-test-server.sh). */
  testServerPath: string;
  /** The real workflow bundle (src/workflows/index.ts), built once per run. */
  workflowBundlePath: string;
}

// Not merged into vitest's ProvidedContext: that interface is global to the type check, and the
// integration set-up's generic provide() only type-checks while it holds the integration keys alone.
type Provide = (key: string, value: unknown) => void;
type Inject = (key: string) => unknown;

const PREFIX = 'workflowSpec.';

export function provideSpecContext(project: TestProject, context: WorkflowSpecContext): void {
  const provide = project.provide.bind(project) as unknown as Provide;
  for (const [key, value] of Object.entries(context)) provide(PREFIX + key, value);
}

export function injectSpecContext(): WorkflowSpecContext {
  const read = (key: keyof WorkflowSpecContext): string => {
    const value = (inject as unknown as Inject)(PREFIX + key);
    if (typeof value !== 'string') throw new Error(`${key} was not provided: run with --project workflow`);
    return value;
  };
  return { testServerPath: read('testServerPath'), workflowBundlePath: read('workflowBundlePath') };
}
