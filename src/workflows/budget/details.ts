// What operators read about a host's budget in the Web UI: its current details (markdown).
import type { BudgetDecision, BudgetTotals } from '../../contract/budget-types.js';
import { formatBytes } from './policy.js';

export interface BudgetDetailsInput {
  hostId: string;
  totals: BudgetTotals;
  lastDecision: BudgetDecision | null;
  evictionsTotal: number;
  pendingRemovals: number;
  scannedAt: string | null;
}

export function budgetDetails({
  hostId,
  totals,
  lastDecision,
  evictionsTotal,
  pendingRemovals,
  scannedAt,
}: BudgetDetailsInput): string {
  const limits = lastDecision?.limits;
  const usage = lastDecision?.usage;
  const lines = [
    `**budget of host \`${hostId}\`** · ${totals.count} snapshot(s)` +
      (limits?.maxSnapshots !== undefined ? ` of ${limits.maxSnapshots}` : '') +
      ` · ${formatBytes(totals.bytes)}` +
      (limits?.maxBytes !== undefined ? ` of ${formatBytes(limits.maxBytes)}` : ''),
  ];
  if (usage?.diskUsedPercent !== null && usage?.diskUsedPercent !== undefined) {
    lines.push(
      `disk: ${usage.diskUsedPercent.toFixed(1)}% used` +
        (limits ? ` (evicts at ${limits.diskHighPercent}%, down to ${limits.diskLowPercent}%)` : ''),
    );
  }
  const shortfall = lastDecision?.diskShortfall;
  if (shortfall) {
    lines.push(
      `**disk pressure not relieved** (FreeDiskSpaceFailed): ${formatBytes(shortfall.neededBytes)} to free, ` +
        `only ${formatBytes(shortfall.freeableBytes)} evictable; the rest is not snapkeeper's to remove`,
    );
  }
  lines.push(`evictions so far: ${evictionsTotal}; removals pending: ${pendingRemovals}`);
  if (scannedAt) lines.push(`last full count: ${scannedAt}`);
  return lines.join('\n\n');
}
