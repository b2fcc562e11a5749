// What the chaos run did and what it expects at the end: every registration it tried (and whether
// the API acknowledged it), the containers it started, and anything odd it saw on the way.

export const LIFECYCLE_KINDS = [
  'merge',
  'ttl',
  'invalidate',
  'evict',
  'replace',
  'cancel',
  'terminate',
  'late-webhook',
  'race',
  'held',
] as const;
export type LifecycleKind = (typeof LIFECYCLE_KINDS)[number];

/** gone: must have left the disk; held: must still be the current image of its open workflow. */
export type Expectation = 'gone' | 'held';

export interface Registration {
  lifecycle: number;
  kind: LifecycleKind;
  host: string;
  projectId: string;
  workItemId: string;
  image: string;
  imageId: string;
  /** The API answered 2xx: from here on the image is snapkeeper's promise. */
  acknowledged: boolean;
  answers: string[];
  expect: Expectation;
  /** A reference someone else added to the image; the image must survive with it. */
  foreignTag?: string;
}

export interface Ledger {
  /**
   * Every project of the run starts with this: the end checks and the drain look at (and cancel)
   * only these, so they are safe on a server or engine that others share.
   */
  projectPrefix: string;
  registrations: Registration[];
  /** Containers started from snapshots, per host id, until the lifecycle removes them. */
  holders: Map<string, Set<string>>;
  lifecycles: { n: number; kind: LifecycleKind; done: boolean; error?: string; seconds?: number }[];
  anomalies: string[];
  lastCommitAt: number;
  webhookDeliveries: number;
  duplicateDeliveries: number;
  holdersStarted: number;
  /** Docker steps of the lifecycles that failed with "no space left on device" (then retried). */
  noSpaceErrors: number;
  /** Hosts whose disk the run fills: disk-pressure evictions there are snapkeeper doing its job. */
  fullDiskHosts: Set<string>;
}

export function createLedger(projectPrefix = 'chaos-'): Ledger {
  return {
    projectPrefix,
    registrations: [],
    holders: new Map(),
    lifecycles: [],
    anomalies: [],
    lastCommitAt: 0,
    webhookDeliveries: 0,
    duplicateDeliveries: 0,
    holdersStarted: 0,
    noSpaceErrors: 0,
    fullDiskHosts: new Set(),
  };
}
