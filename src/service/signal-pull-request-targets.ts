// One look for the snapshot workflows a closed pull request ends (its links in visibility, every
// page, and the work items its branch maps to) and one idempotent signal to each. Used by the API
// for a fast first pass and by the per-pull-request workflow's activity for the durable ones.
import { pullRequestSignalKey, snapshotWorkflowId } from '../contract/names.js';
import type { InvalidateSignal, MergedSignal, PullRequestMatch } from '../contract/snapshot-types.js';
import type {
  PullRequestTargetsRequest,
  SignalledWorkItem,
  WorkItemRef,
} from '../contract/pull-request-types.js';
import { findSnapshotsByPullRequest } from './find-snapshots-by-pull-request.js';
import type { FindLinkedSnapshots } from './coalesced-pull-request-lookup.js';
import type { VisibilityClient } from './visibility.js';

/** Sends one signal; false when the work item has no open workflow. */
export interface TargetSignaller {
  merged(projectId: string, workItemId: string, signal: MergedSignal): Promise<boolean>;
  invalidate(projectId: string, workItemId: string, signal: InvalidateSignal): Promise<boolean>;
}

export interface TargetsOutcome {
  workItems: SignalledWorkItem[];
  failures: Array<{ target: WorkItemRef; error: unknown }>;
}

/** Signals in flight at once: a pull request linked to thousands of work items must not flood the frontend. */
export const SIGNAL_CONCURRENCY = 32;

async function settledWithLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<Array<PromiseSettledResult<R>>> {
  const out: Array<PromiseSettledResult<R>> = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { status: 'fulfilled', value: await fn(items[i] as T) };
      } catch (reason) {
        out[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

/** Where one pass spent its time, in milliseconds: the visibility look, then the signals. */
export type TargetsPhase = 'lookup' | 'signals';

export interface TargetsOptions {
  /** Hears how long each phase took. */
  onPhase?: (phase: TargetsPhase, ms: number) => void;
  /**
   * The look for linked snapshots, when the process shares one between concurrent passes
   * (coalesced-pull-request-lookup.ts); a request with its own page size looks by itself.
   */
  findLinked?: FindLinkedSnapshots;
}

export async function signalPullRequestTargets(
  client: VisibilityClient,
  signaller: TargetSignaller,
  req: PullRequestTargetsRequest,
  options: TargetsOptions = {},
): Promise<TargetsOutcome> {
  const targets = new Map<string, WorkItemRef & { match: PullRequestMatch }>();
  const lookStart = performance.now();
  const linked =
    options.findLinked && !req.pageSize
      ? await options.findLinked(req.pullRequest)
      : await findSnapshotsByPullRequest(client, req.pullRequest, {
          ...(req.pageSize ? { pageSize: req.pageSize } : {}),
        });
  options.onPhase?.('lookup', performance.now() - lookStart);
  for (const w of linked) targets.set(snapshotWorkflowId(w.projectId, w.workItemId), { ...w, match: 'link' });
  // A branch match is the looser one (it also ends an image without a link), so it wins.
  for (const w of req.branchTargets)
    targets.set(snapshotWorkflowId(w.projectId, w.workItemId), { ...w, match: 'branch' });

  const list = [...targets.values()];
  const { pullRequest, deliveryId } = req;
  // The snapshot workflow remembers this to drop a repeated merge: the signed event key, not the
  // delivery header, which a replay of a captured body may set to anything.
  const dedupKey = req.eventKey ? pullRequestSignalKey(pullRequest, req.kind, req.eventKey) : deliveryId;
  const signalStart = performance.now();
  const results = await settledWithLimit(list, SIGNAL_CONCURRENCY, (w) =>
    req.kind === 'merged'
      ? signaller.merged(w.projectId, w.workItemId, {
          pullRequest,
          deliveryId: dedupKey,
          match: w.match,
          ...(req.at ? { mergedAt: req.at } : {}),
        })
      : signaller.invalidate(w.projectId, w.workItemId, {
          reason: `pull request ${pullRequest.repository}#${pullRequest.number} closed without merge (delivery ${deliveryId})`,
          pullRequest,
          match: w.match,
          ...(req.at ? { occurredAt: req.at } : {}),
        }),
  );
  options.onPhase?.('signals', performance.now() - signalStart);
  const failures: TargetsOutcome['failures'] = [];
  const workItems = list.map((w, i): SignalledWorkItem => {
    const r = results[i] as PromiseSettledResult<boolean>;
    if (r.status === 'rejected') failures.push({ target: w, error: r.reason });
    return {
      projectId: w.projectId,
      workItemId: w.workItemId,
      match: w.match,
      signalled: r.status === 'fulfilled' && r.value,
    };
  });
  return { workItems, failures };
}
