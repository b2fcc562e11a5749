// What the workflow project's global set-up hands to every spec file (vitest `provide` / `inject`).

export interface WorkflowSpecContext {
  /** The wrapper that starts Temporal's Java time-skipping test server (scripts/ensure-test-server.sh). */
  testServerPath: string;
  /** The real workflow bundle (src/workflows/index.ts), built once per run. */
  workflowBundlePath: string;
}

declare module 'vitest' {
  // Declaration merging with vitest's own interface.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  export interface ProvidedContext extends WorkflowSpecContext {}
}
