// What the integration global setup hands to every test file (vitest `provide` / `inject`). Values
// cross a process boundary, so they must stay plain serializable data.
export type TemporalKind = 'dev' | 'cluster';

export interface HarnessContext {
  /**
   * Which Temporal the run uses (SNAPKEEPER_TEST_TEMPORAL): the CLI's dev server (SQLite), or the
   * production-shaped server on PostgreSQL (scripts/lib/temporal-cluster.ts).
   */
  temporalKind: TemporalKind;
  /** host:port of the shared Temporal server. */
  temporalAddress: string;
  /** host:port of its HTTP/JSON API (the CLI's fast path); null on the cluster. */
  temporalHttpAddress: string | null;
  /** `unix://…` of the private Docker engine; never the machine's own engine. */
  dockerHost: string;
  temporalCliPath: string;
  /** null when tctl could not be built (the Go proxy may refuse it). */
  tctlPath: string | null;
  /** busybox base image, repo:tag. Must survive every test. */
  baseImage: string;
  baseImageId: string;
  /** An image without managed labels, repo:tag. Must survive every test. */
  canaryImage: string;
  canaryImageId: string;
  /** SQLite file of the shared dev server; null on the cluster. */
  devServerDbFile: string | null;
  /** Namespaces the shared server has, each with the search attributes. */
  temporalNamespaces: string[];
  /** A temporary directory removed at teardown; tests may make subdirectories in it. */
  workDir: string;
  /**
   * The workflow code bundled once for the run (in workDir): in-process workers load it instead of
   * running webpack again at each start (seconds of CPU each, about 30 starts in a run).
   */
  workflowBundlePath: string;
}

declare module 'vitest' {
  // Declaration merging with vitest's own interface.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  export interface ProvidedContext extends HarnessContext {}
}

export const HARNESS_KEYS = [
  'temporalKind',
  'temporalAddress',
  'temporalHttpAddress',
  'dockerHost',
  'temporalCliPath',
  'tctlPath',
  'baseImage',
  'baseImageId',
  'canaryImage',
  'canaryImageId',
  'devServerDbFile',
  'temporalNamespaces',
  'workDir',
  'workflowBundlePath',
] as const satisfies readonly (keyof HarnessContext)[];
