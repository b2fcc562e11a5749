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
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
} from '@temporalio/workflow';
import type { BudgetControlActivities } from '../activities/budget-control-activities.js';
import type { BudgetHostActivities } from '../activities/budget-host-activities.js';
import type { ReconcileControlActivities } from '../activities/reconcile-control-activities.js';
import { ErrorType } from '../contract/errors.js';
import { dockerTaskQueue } from '../contract/names.js';
import type {
  AdmitRequest,
  AdmitResult,
  BudgetDecision,
  BudgetEntry,
  BudgetFacts,
  BudgetMemo,
  BudgetView,
  Eviction,
  PendingRemoval,
} from '../contract/budget-types.js';
import type { LedgerCarry } from './budget-ledger.js';
import { BudgetLedger } from './budget-ledger.js';
import { budgetDetails } from './budget-details.js';
import { hasOwn, ownValue } from '../contract/keyed-records.js';
import { planEvictions } from './budget-policy.js';
import { describeOwners } from './owners.js';
import { BUDGET_MEMO_KEY } from '../contract/names.js';
import { SerialLane, continueAsNewDue, nowIso } from './workflow-helpers.js';
import {
  budgetAdmitUpdate,
  budgetAdmittedSignal,
  budgetCheckUpdate,
  budgetReleaseSignal,
  budgetStateQuery,
  evictSignal,
} from '../contract/messages.js';

export interface BudgetWorkflowOptions {
  /** Continue-as-new once the history holds this many events (or when the server suggests it). */
  continueAsNewAfterEvents?: number;
  /** An evicted image still on disk after this long no longer counts as about to be freed. */
  pendingExpirySeconds?: number;
  /** Snapshots known one by one (the least recently used); tests shrink it to exercise scans. */
  coldSetLimit?: number;
}

/**
 * What one run hands the next on continue-as-new: the ledger (bounded: totals, a few hundred
 * entries, a few thousand short keys) and the last decision, whatever the host holds.
 */
export interface BudgetCarry {
  ledger?: LedgerCarry;
  /** Runs from before the ledger carried every entry; still read, never written. */
  entries?: BudgetEntry[];
  pending?: PendingRemoval[];
  evictionsTotal: number;
  lastDecision: BudgetDecision | null;
  scannedAt?: string | null;
}

export interface BudgetWorkflowInput {
  hostId: string;
  options?: BudgetWorkflowOptions;
  carry?: BudgetCarry;
}

/**
 * Records keyed by project id are read by their own keys only, so a project named `constructor`
 * counts like any other. Runs from before it replay the inherited reads they recorded.
 */
export const OWN_KEYS_PATCH = 'budget-own-keys';

const DEFAULT_CONTINUE_AS_NEW_AFTER = 2000;
const DEFAULT_PENDING_EXPIRY_SECONDS = 600;
const MAX_EVICTION_ROUNDS = 5;
const MAX_PLAN_ROUNDS = 8;
/** Evictions listed in a decision and in the admission's answer; the count is exact. */
const DECISION_LIST_LIMIT = 50;
/** Under disk pressure, what this many of the coldest would free is measured (an inspect each). */
const MEASURED_CANDIDATES = 100;
/** Recent admissions a scan asks directly, in case visibility does not show them yet. */
const SCAN_ALSO_ASKS = 200;

export async function budgetWorkflow(input: BudgetWorkflowInput): Promise<void> {
  const { hostId } = input;
  const options = input.options ?? {};
  const continueAsNewAfter = options.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER;
  const pendingExpiryMs = (options.pendingExpirySeconds ?? DEFAULT_PENDING_EXPIRY_SECONDS) * 1000;

  const carry = input.carry;
  const ownKeys = patched(OWN_KEYS_PATCH);
  const own: <T>(record: Record<string, T>, key: string) => T | undefined = ownKeys
    ? ownValue
    : (record, key) => record[key];
  const ledger = new BudgetLedger(
    carry?.ledger ?? (carry?.entries ? { entries: carry.entries, pending: carry.pending ?? [] } : undefined),
    options.coldSetLimit,
    !ownKeys,
  );
  let evictionsTotal = carry?.evictionsTotal ?? 0;
  let lastDecision: BudgetDecision | null = carry?.lastDecision ?? null;
  let scannedAt: string | null = carry?.scannedAt ?? null;
  // Runs from before the memo replay without it (and without admissions by signal).
  const totalsInMemo = patched('budget-totals-in-memo');
  let memoShown = '';

  // The host's Docker worker answers fast or not at all; a registration waits on this.
  const host = proxyActivities<BudgetHostActivities>({
    taskQueue: dockerTaskQueue(hostId),
    scheduleToStartTimeout: '20 seconds',
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: '15 seconds',
    retry: { maximumAttempts: 2 },
  });
  const control = proxyActivities<ReconcileControlActivities & BudgetControlActivities>({
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '15 seconds',
    retry: { maximumAttempts: 3 },
  });

  // Every decision, admission and release waits its turn, so none sees the totals change under it.
  const lane = new SerialLane();
  const serially = <T>(step: () => Promise<T>) => lane.run(step);

  /**
   * Counts the host again from its open snapshot workflows (visibility, then each owner's answer):
   * this is what corrects the totals after owners ended without telling (terminated), and refills
   * the coldest snapshots once evictions used them up. One activity, whose result is bounded.
   */
  async function rescan(): Promise<void> {
    const scan = await control.scanHostSnapshots({
      host: hostId,
      coldLimit: ledger.coldLimit,
      alsoAsk: ledger.recentlyAdmitted(SCAN_ALSO_ASKS),
    });
    ledger.applyScan(scan);
    scannedAt = nowIso();
  }

  /** Asks the owners of these snapshots what they hold now (last use, whether still current). */
  async function refresh(workflowIds: string[]): Promise<void> {
    if (workflowIds.length === 0) return;
    for (const view of await describeOwners(control.describeSnapshotWorkflows, workflowIds)) {
      const known = ledger.entry(view.workflowId);
      if (!known || view.status === 'error') continue; // unknown: keep what we had
      const c = view.current;
      if (view.status !== 'running' || !c || (c.imageId !== known.imageId && c.host !== hostId)) {
        // Ended without telling us (terminated), or replaced by an image on another host: this
        // one is on its way off this disk.
        ledger.subtract(known, nowIso());
      } else if (c.imageId !== known.imageId) {
        // Replaced here: the replacement's admission (under way, or failed) adjusts the totals.
        ledger.forget(view.workflowId);
      } else {
        ledger.touch(view.workflowId, c.lastUsedAt);
      }
    }
  }

  async function facts(uniqueFor: string[], projectIds: string[]): Promise<BudgetFacts> {
    const now = Date.now();
    ledger.pending = ledger.pending.filter((p) => now - Date.parse(p.since) < pendingExpiryMs);
    const result = await host.budgetFacts({
      host: hostId,
      projectIds: [...new Set(projectIds)].sort(),
      pendingImageIds: ledger.pending.map((p) => p.imageId),
      uniqueFor,
    });
    // A pending removal no longer on the engine has been freed, and measured as such.
    ledger.pending = ledger.pending.filter((p) =>
      ownKeys ? hasOwn(result.pendingPresent, p.imageId) : p.imageId in result.pendingPresent,
    );
    return result;
  }

  const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

  async function decide(
    trigger: 'admit' | 'check',
    protectedEntry: { workflowId: string; projectId: string } | null,
    discover: boolean,
  ): Promise<AdmitResult> {
    let scanned = false;
    if (discover) {
      await rescan();
      scanned = true;
    }
    // An admission can only push its own project over its limit; a check looks at them all.
    const projectsAsked = () =>
      trigger === 'check'
        ? Object.keys(ledger.totals.projectCounts)
        : protectedEntry
          ? [protectedEntry.projectId]
          : [];
    let f = await facts([], projectsAsked());
    let pendingBytes = sum(f.pendingPresent);
    const plan = () =>
      planEvictions({
        hostId,
        entries: ledger.coldest(),
        totals: ledger.totals,
        limits: f.limits,
        disk: f.disk,
        pendingBytes,
        uniqueBytes: f.uniqueBytes,
        protectedWorkflowId: protectedEntry?.workflowId ?? null,
        legacyKeys: !ownKeys,
      });
    let current = plan();
    if (current.evictions.length > 0 || current.short || trigger === 'check') {
      // About to evict: decide on what the owners say now (last use, whether they still hold the
      // image), not on what they reported at registration. Only the victims are asked.
      const asked = new Set<string>();
      let measured = false;
      for (let round = 0; round < MAX_PLAN_ROUNDS; round++) {
        if (current.short && !scanned) {
          await rescan();
          scanned = true;
        } else {
          const ask = current.evictions.map((e) => e.workflowId).filter((id) => !asked.has(id));
          if (ask.length > 0) {
            await refresh(ask);
            ask.forEach((id) => asked.add(id));
          } else if (!measured) {
            // Measure again: the owners may have ended, leaving images on their way out. What each
            // candidate would free matters only under disk pressure (it costs an inspect each).
            const unique = current.diskOverHigh
              ? ledger
                  .coldest()
                  .slice(0, MEASURED_CANDIDATES)
                  .map((e) => e.imageId)
              : [];
            f = await facts(unique, projectsAsked());
            pendingBytes = sum(f.pendingPresent);
            measured = true;
          } else break;
        }
        current = plan();
      }
    }

    const evicted: Eviction[] = [];
    let evictedCount = 0;
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
        const entry = ledger.entry(e.workflowId);
        const gone = entry ?? { ...e, sizeBytes: 0 };
        if (outcomes[i]?.status === 'fulfilled') {
          evictedCount++;
          if (evicted.length < DECISION_LIST_LIMIT) evicted.push(e);
          const bytes = own(f.uniqueBytes, e.imageId) ?? gone.sizeBytes;
          ledger.subtract(gone, nowIso(), bytes);
          pendingBytes += bytes;
        } else {
          // The owner is gone (terminated, say): it holds nothing any more, so it counts for
          // nothing, and another snapshot may have to go in its place.
          ledger.subtract(gone, nowIso(), 0);
          lost = true;
          log.warn('evicted snapshot workflow is gone', { workflowId: e.workflowId });
        }
      });
      if (!lost) break;
      current = plan();
    }

    evictionsTotal += evictedCount;
    const decision: BudgetDecision = {
      at: nowIso(),
      trigger,
      workflowId: protectedEntry?.workflowId ?? null,
      evicted,
      evictedCount,
      usage: current.usage,
      limits: f.limits,
    };
    lastDecision = decision;
    publish();
    if (evictedCount > 0 || trigger === 'check') {
      await host.recordBudgetDecision({ host: hostId, decision });
    }
    return { evicted, evictedCount, usage: current.usage };
  }

  function usageNow() {
    return {
      snapshots: ledger.totals.count,
      bytes: ledger.totals.bytes,
      diskUsedPercent: lastDecision?.usage.diskUsedPercent ?? null,
      diskEstimatedPercent: lastDecision?.usage.diskEstimatedPercent ?? null,
    };
  }

  function publish(): void {
    if (totalsInMemo) {
      const { count, bytes } = ledger.totals;
      const shown = `${count}/${bytes}`;
      if (shown !== memoShown) {
        upsertMemo({ [BUDGET_MEMO_KEY]: { count, bytes, at: nowIso() } satisfies BudgetMemo });
        memoShown = shown;
      }
    }
    setCurrentDetails(
      budgetDetails({
        hostId,
        totals: ledger.totals,
        lastDecision,
        evictionsTotal,
        pendingRemovals: ledger.pending.length,
        scannedAt,
      }),
    );
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
        const outcome = ledger.admit(req, nowIso());
        if (outcome === 'older' || outcome === 'already-gone') return { evicted: [], usage: usageNow() };
        try {
          return await decide('admit', req, false);
        } catch (err) {
          throw failure(err);
        }
      }),
    {
      validator: (req) => {
        const ok = isAdmitRequest(req);
        if (!ok) {
          throw ApplicationFailure.nonRetryable(
            'admit needs {workflowId, projectId, imageId, sizeBytes, createdAt, lastUsedAt, replaces?}',
            ErrorType.invalidRequest,
          );
        }
      },
    },
  );

  /** Whether the totals crossed a limit known from the last decision (or none is known yet). */
  function overKnownLimits(projectId: string): boolean {
    const limits = lastDecision?.limits;
    if (!limits) return true;
    const t = ledger.totals;
    const projectMax = own(limits.projectMaxSnapshots, projectId);
    return (
      (limits.maxSnapshots !== undefined && t.count > limits.maxSnapshots) ||
      (limits.maxBytes !== undefined && t.bytes > limits.maxBytes) ||
      (projectMax !== undefined && (own(t.projectCounts, projectId) ?? 0) > projectMax)
    );
  }

  // Registrations far from every limit tell the budget afterwards, off their path. The budget
  // decides only when its totals crossed a limit meanwhile (registrations racing past the
  // headroom); otherwise it just counts.
  setHandler(budgetAdmittedSignal, (req) =>
    serially(async () => {
      if (!isAdmitRequest(req)) {
        log.warn('malformed budget admission ignored', { req });
        return;
      }
      const outcome = ledger.admit(req, nowIso());
      if (outcome === 'older' || outcome === 'already-gone' || !overKnownLimits(req.projectId)) {
        publish();
        return;
      }
      try {
        await decide('admit', req, false);
      } catch (err) {
        log.warn('budget decision after an admission failed; the next check decides', {
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }),
  );

  // Releases wait their turn like decisions, so a decision never sees the totals change under it.
  setHandler(budgetReleaseSignal, (signal) =>
    serially(async () => {
      if (
        typeof signal?.workflowId !== 'string' ||
        typeof signal.imageId !== 'string' ||
        typeof signal.projectId !== 'string' ||
        typeof signal.sizeBytes !== 'number'
      ) {
        log.warn('malformed budget release ignored', { signal });
        return;
      }
      ledger.release(signal, nowIso());
      if (totalsInMemo) publish();
    }),
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
    entries: ledger.coldest(),
    complete: ledger.complete,
    totals: ledger.totals,
    pending: ledger.pending,
    evictionsTotal,
    lastDecision,
  }));

  //
  // Main loop: all the work is in the handlers; continue as new between them.
  //
  publish();
  for (;;) {
    await condition(() => continueAsNewDue(continueAsNewAfter) && lane.busy === 0);
    await condition(allHandlersFinished);
    if (lane.busy > 0) continue;
    const next: BudgetCarry = { ledger: ledger.toCarry(), evictionsTotal, lastDecision, scannedAt };
    await continueAsNew<typeof budgetWorkflow>({ hostId, options, carry: next });
  }
}

function isAdmitRequest(req: AdmitRequest | undefined): boolean {
  return (
    typeof req?.workflowId === 'string' &&
    typeof req.projectId === 'string' &&
    typeof req.imageId === 'string' &&
    typeof req.sizeBytes === 'number' &&
    req.sizeBytes >= 0 &&
    !Number.isNaN(Date.parse(req.createdAt)) &&
    !Number.isNaN(Date.parse(req.lastUsedAt)) &&
    (req.replaces === undefined ||
      req.replaces === null ||
      (typeof req.replaces.imageId === 'string' && typeof req.replaces.sizeBytes === 'number'))
  );
}
