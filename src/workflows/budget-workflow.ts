// The budget entity of one Docker host (`budget:<hostId>`): it serialises every budget decision of
// that host, so two registrations racing each other are decided one after the other, against the
// snapshots the first one left. Deterministic code only; the host is measured by activities.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BudgetHostActivities } from '../activities/budget-activities.js';
import type { ReconcileControlActivities } from '../activities/reconcile-activities.js';
import { ErrorType } from '../shared/errors.js';
import { dockerTaskQueue } from '../shared/names.js';
import type {
  AdmitRequest,
  AdmitResult,
  BudgetDecision,
  BudgetEntry,
  BudgetFacts,
  BudgetView,
  Eviction,
  PendingRemoval,
} from './budget-types.js';
import { formatBytes, planEvictions } from './budget-policy.js';
import { describeOwners } from './owners.js';
import { budgetAdmitUpdate, budgetCheckUpdate, budgetStateQuery, evictSignal } from './messages.js';

export interface BudgetWorkflowOptions {
  /** Continue-as-new once the history holds this many events (or when the server suggests it). */
  continueAsNewAfterEvents?: number;
  /** An evicted image still on disk after this long no longer counts as about to be freed. */
  pendingExpirySeconds?: number;
}

/** What one run hands the next on continue-as-new. */
export interface BudgetCarry {
  entries: BudgetEntry[];
  pending: PendingRemoval[];
  evictionsTotal: number;
  lastDecision: BudgetDecision | null;
}

export interface BudgetWorkflowInput {
  hostId: string;
  options?: BudgetWorkflowOptions;
  carry?: BudgetCarry;
}

const DEFAULT_CONTINUE_AS_NEW_AFTER = 2000;
const DEFAULT_PENDING_EXPIRY_SECONDS = 600;
const MAX_EVICTION_ROUNDS = 5;

export async function budgetWorkflow(input: BudgetWorkflowInput): Promise<void> {
  const { hostId } = input;
  const options = input.options ?? {};
  const continueAsNewAfter = options.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER;
  const pendingExpiryMs = (options.pendingExpirySeconds ?? DEFAULT_PENDING_EXPIRY_SECONDS) * 1000;

  const entries = new Map<string, BudgetEntry>((input.carry?.entries ?? []).map((e) => [e.workflowId, e]));
  let pending: PendingRemoval[] = input.carry?.pending ?? [];
  let evictionsTotal = input.carry?.evictionsTotal ?? 0;
  let lastDecision: BudgetDecision | null = input.carry?.lastDecision ?? null;

  // The host's Docker worker answers fast or not at all; a registration waits on this.
  const host = proxyActivities<BudgetHostActivities>({
    taskQueue: dockerTaskQueue(hostId),
    scheduleToStartTimeout: '20 seconds',
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 2 },
  });
  const control = proxyActivities<ReconcileControlActivities>({
    startToCloseTimeout: '2 minutes',
    retry: { maximumAttempts: 3 },
  });

  const nowIso = () => new Date(Date.now()).toISOString();

  let busy = 0;
  let chain: Promise<unknown> = Promise.resolve();
  function serially<T>(fn: () => Promise<T>): Promise<T> {
    busy++;
    const run = chain.then(fn).finally(() => busy--);
    chain = run.catch(() => undefined);
    return run;
  }

  function addPending(workflowId: string, imageId: string, bytes: number): void {
    if (pending.some((p) => p.imageId === imageId)) return;
    pending.push({ workflowId, imageId, bytes, since: nowIso() });
  }

  /** Replaces what the budget believes with what the snapshot workflows say now. */
  async function refresh(discover: boolean): Promise<void> {
    let ids = [...entries.keys()];
    if (discover) {
      const open = await control.listOpenSnapshotWorkflows({ host: hostId });
      ids = [...new Set([...ids, ...open])];
    }
    if (ids.length === 0) return;
    for (const view of await describeOwners(control.describeSnapshotWorkflows, ids)) {
      if (view.status === 'error') continue; // unknown: keep what we had
      const prev = entries.get(view.workflowId);
      const c = view.current;
      if (view.status !== 'running' || !c || c.host !== hostId) {
        // Ended (or moved to another host): its image is on its way off this disk.
        if (prev) addPending(prev.workflowId, prev.imageId, prev.sizeBytes);
        entries.delete(view.workflowId);
        continue;
      }
      if (prev && prev.imageId !== c.imageId) addPending(prev.workflowId, prev.imageId, prev.sizeBytes);
      entries.set(view.workflowId, {
        workflowId: view.workflowId,
        projectId: c.projectId,
        imageId: c.imageId,
        sizeBytes: c.sizeBytes,
        createdAt: c.createdAt,
        lastUsedAt: c.lastUsedAt,
      });
    }
  }

  async function facts(uniqueFor: string[]): Promise<BudgetFacts> {
    const now = Date.now();
    pending = pending.filter((p) => now - Date.parse(p.since) < pendingExpiryMs);
    const result = await host.budgetFacts({
      host: hostId,
      projectIds: [...new Set([...entries.values()].map((e) => e.projectId))].sort(),
      pendingImageIds: pending.map((p) => p.imageId),
      uniqueFor,
    });
    // A pending removal no longer on the engine has been freed, and measured as such.
    pending = pending.filter((p) => p.imageId in result.pendingPresent);
    return result;
  }

  const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

  async function decide(
    trigger: 'admit' | 'check',
    protectedWorkflowId: string | null,
    discover: boolean,
  ): Promise<AdmitResult> {
    let f = await facts([]);
    const plan = (uniqueBytes: Record<string, number>, pendingBytes: number) =>
      planEvictions({
        hostId,
        entries: [...entries.values()],
        limits: f.limits,
        disk: f.disk,
        pendingBytes,
        uniqueBytes,
        protectedWorkflowId,
      });
    let pendingBytes = sum(f.pendingPresent);
    let current = plan({}, pendingBytes);
    if (current.evictions.length > 0 || trigger === 'check') {
      // About to evict: decide on what the owners say now (last use, whether they still hold the
      // image), not on what they reported at registration.
      await refresh(discover);
      // Measure again: the refresh may have found ended snapshots whose images are still leaving.
      // What each candidate would free matters only under disk pressure (it costs an inspect each).
      f = await facts(current.diskOverHigh ? [...entries.values()].map((e) => e.imageId) : []);
      pendingBytes = sum(f.pendingPresent);
      current = plan(f.uniqueBytes, pendingBytes);
    }

    const evicted: Eviction[] = [];
    for (let round = 0; round < MAX_EVICTION_ROUNDS && current.evictions.length > 0; round++) {
      const outcomes = await Promise.allSettled(
        current.evictions.map((e) =>
          getExternalWorkflowHandle(e.workflowId).signal(evictSignal, {
            reason: e.reason,
            imageId: e.imageId,
          }),
        ),
      );
      let lost = false;
      current.evictions.forEach((e, i) => {
        const entry = entries.get(e.workflowId);
        entries.delete(e.workflowId);
        if (outcomes[i]?.status === 'fulfilled') {
          evicted.push(e);
          const bytes = f.uniqueBytes[e.imageId] ?? entry?.sizeBytes ?? 0;
          addPending(e.workflowId, e.imageId, bytes);
          pendingBytes += bytes;
        } else {
          // The owner is gone (terminated, say): it holds nothing any more, so it counts for
          // nothing, and another snapshot may have to go in its place.
          lost = true;
          log.warn('evicted snapshot workflow is gone', { workflowId: e.workflowId });
        }
      });
      if (!lost) break;
      current = plan(f.uniqueBytes, pendingBytes);
    }

    evictionsTotal += evicted.length;
    const decision: BudgetDecision = {
      at: nowIso(),
      trigger,
      workflowId: protectedWorkflowId,
      evicted,
      usage: current.usage,
      limits: f.limits,
    };
    lastDecision = decision;
    publish();
    if (evicted.length > 0 || trigger === 'check') {
      await host.recordBudgetDecision({ host: hostId, decision });
    }
    return { evicted, usage: current.usage };
  }

  function publish(): void {
    const usage = lastDecision?.usage;
    const limits = lastDecision?.limits;
    const lines = [
      `**budget of host \`${hostId}\`** · ${entries.size} snapshot(s)` +
        (limits?.maxSnapshots !== undefined ? ` of ${limits.maxSnapshots}` : '') +
        ` · ${formatBytes(usage?.bytes ?? 0)}` +
        (limits?.maxBytes !== undefined ? ` of ${formatBytes(limits.maxBytes)}` : ''),
    ];
    if (usage?.diskUsedPercent !== null && usage?.diskUsedPercent !== undefined) {
      lines.push(
        `disk: ${usage.diskUsedPercent.toFixed(1)}% used` +
          (limits ? ` (evicts at ${limits.diskHighPercent}%, down to ${limits.diskLowPercent}%)` : ''),
      );
    }
    lines.push(`evictions so far: ${evictionsTotal}; removals pending: ${pending.length}`);
    setCurrentDetails(lines.join('\n\n'));
  }

  function failure(err: unknown): ApplicationFailure {
    if (err instanceof ApplicationFailure) return err;
    const message =
      err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    return ApplicationFailure.retryable(
      `budget decision of host ${hostId} failed: ${message}`,
      ErrorType.hostUnavailable,
    );
  }

  setHandler(
    budgetAdmitUpdate,
    (req: AdmitRequest) =>
      serially(async () => {
        const prev = entries.get(req.workflowId);
        // A late retry of an older registration must not replace a newer one.
        if (prev && Date.parse(prev.createdAt) > Date.parse(req.createdAt)) {
          return { evicted: [], usage: lastDecision?.usage ?? emptyUsage(entries) };
        }
        if (prev && prev.imageId !== req.imageId) addPending(prev.workflowId, prev.imageId, prev.sizeBytes);
        entries.set(req.workflowId, {
          workflowId: req.workflowId,
          projectId: req.projectId,
          imageId: req.imageId,
          sizeBytes: req.sizeBytes,
          createdAt: req.createdAt,
          lastUsedAt:
            prev && prev.imageId === req.imageId && prev.lastUsedAt > req.lastUsedAt
              ? prev.lastUsedAt
              : req.lastUsedAt,
        });
        try {
          return await decide('admit', req.workflowId, false);
        } catch (err) {
          throw failure(err);
        }
      }),
    {
      validator: (req) => {
        const ok =
          typeof req?.workflowId === 'string' &&
          typeof req.projectId === 'string' &&
          typeof req.imageId === 'string' &&
          typeof req.sizeBytes === 'number' &&
          req.sizeBytes >= 0 &&
          !Number.isNaN(Date.parse(req.createdAt)) &&
          !Number.isNaN(Date.parse(req.lastUsedAt));
        if (!ok) {
          throw ApplicationFailure.nonRetryable(
            'admit needs {workflowId, projectId, imageId, sizeBytes, createdAt, lastUsedAt}',
            ErrorType.invalidRequest,
          );
        }
      },
    },
  );

  setHandler(budgetCheckUpdate, (req) =>
    serially(async () => {
      try {
        return await decide('check', null, req?.discover ?? false);
      } catch (err) {
        throw failure(err);
      }
    }),
  );

  setHandler(budgetStateQuery, (): BudgetView => ({
    hostId,
    entries: [...entries.values()],
    pending,
    evictionsTotal,
    lastDecision,
  }));

  publish();
  const continueAsNewDue = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= continueAsNewAfter;
  for (;;) {
    await condition(() => continueAsNewDue() && busy === 0);
    await condition(allHandlersFinished);
    if (busy > 0) continue;
    const carry: BudgetCarry = { entries: [...entries.values()], pending, evictionsTotal, lastDecision };
    await continueAsNew<typeof budgetWorkflow>({ hostId, options, carry });
  }
}

function emptyUsage(entries: Map<string, BudgetEntry>) {
  return {
    snapshots: entries.size,
    bytes: [...entries.values()].reduce((s, e) => s + e.sizeBytes, 0),
    diskUsedPercent: null,
    diskEstimatedPercent: null,
  };
}
