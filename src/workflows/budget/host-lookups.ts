// What the budget of a host learns from outside, each through an activity: a full count of the
// host's open snapshots (rescan), what some owners hold now (refresh), and the host's own facts
// (limits, disk, what pending removals and candidates would free). Each step corrects the ledger.
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import type { BudgetControlActivities } from '../../activities/budget-control-activities.js';
import type { BudgetHostActivities } from '../../activities/budget-host-activities.js';
import type { ReconcileControlActivities } from '../../activities/reconcile-control-activities.js';
import type { BudgetFacts } from '../../contract/budget-types.js';
import { hasOwn } from '../../contract/keyed-records.js';
import { describeOwners } from '../shared/owners.js';
import { nowIso } from '../shared/workflow-helpers.js';
import type { BudgetLedger } from './ledger.js';

/** Recent admissions a scan asks directly, in case visibility does not show them yet. */
const SCAN_ALSO_ASKS = 200;

export type BudgetHost = ActivityInterfaceFor<BudgetHostActivities>;
export type BudgetControl = ActivityInterfaceFor<ReconcileControlActivities & BudgetControlActivities>;

export interface HostLookupsDeps {
  hostId: string;
  ledger: BudgetLedger;
  host: BudgetHost;
  control: BudgetControl;
  /** An evicted image still on disk after this long no longer counts as about to be freed. */
  pendingExpiryMs: number;
  /** Records keyed by image id are read by their own keys only (budget-own-keys patch). */
  ownKeys: boolean;
  scannedAt: string | null;
}

export class HostLookups {
  /** When the host was last counted in full. */
  scannedAt: string | null;

  constructor(private readonly deps: HostLookupsDeps) {
    this.scannedAt = deps.scannedAt;
  }

  /**
   * Counts the host again from its open snapshot workflows (visibility, then each owner's answer):
   * this is what corrects the totals after owners ended without telling (terminated), and refills
   * the coldest snapshots once evictions used them up. One activity, whose result is bounded.
   */
  async rescan(): Promise<void> {
    const { ledger, control, hostId } = this.deps;
    const scan = await control.scanHostSnapshots({
      host: hostId,
      coldLimit: ledger.coldLimit,
      alsoAsk: ledger.recentlyAdmitted(SCAN_ALSO_ASKS),
    });
    ledger.applyScan(scan);
    this.scannedAt = nowIso();
  }

  /** Asks the owners of these snapshots what they hold now (last use, whether still current). */
  async refresh(workflowIds: string[]): Promise<void> {
    if (workflowIds.length === 0) return;
    const { ledger, control, hostId } = this.deps;
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

  /** The host's limits and disk, and what these images' removal would free (uniqueFor). */
  async facts(uniqueFor: string[], projectIds: string[], trueBytesFor?: string[]): Promise<BudgetFacts> {
    const { ledger, host, hostId, pendingExpiryMs, ownKeys } = this.deps;
    const now = Date.now();
    ledger.pending = ledger.pending.filter((p) => now - Date.parse(p.since) < pendingExpiryMs);
    const result = await host.budgetFacts({
      host: hostId,
      projectIds: [...new Set(projectIds)].sort(),
      pendingImageIds: ledger.pending.map((p) => p.imageId),
      uniqueFor,
      ...(trueBytesFor ? { trueBytesFor } : {}),
    });
    // A pending removal no longer on the engine has been freed, and measured as such.
    ledger.pending = ledger.pending.filter((p) =>
      ownKeys ? hasOwn(result.pendingPresent, p.imageId) : p.imageId in result.pendingPresent,
    );
    return result;
  }
}
