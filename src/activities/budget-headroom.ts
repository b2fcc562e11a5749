// Whether a registration may leave its host's budget off its path: the Docker worker knows the
// host's limits and its disk, and the budget workflow publishes its totals in its memo. Far from
// every limit, the snapshot workflow tells the budget with a signal after answering; near one (or
// when anything is unknown), the registration waits for the budget's decision as before.
import type { Client } from '@temporalio/client';
import type { ProjectPolicies } from '../config/project-policy.js';
import type { DockerPort } from '../docker/docker-port.js';
import type { Logger } from '../logging/logger.js';
import { BUDGET_MEMO_KEY, budgetWorkflowId } from '../contract/names.js';
import type { BudgetMemo } from '../contract/budget-types.js';
import type { HostBudgetSettings } from './budget-host-activities.js';
import { DEFAULT_HOST_BUDGET } from './budget-host-activities.js';

/** Far means below this share of a count or byte limit, after the new image. */
export const HEADROOM_SHARE = 0.9;
/** Far means this many points below the disk's high watermark. */
export const HEADROOM_DISK_POINTS = 5;

type StatFs = (path: string) => Promise<{ bsize: number; blocks: number; bfree: number; bavail: number }>;

export interface BudgetHeadroomDeps {
  docker: DockerPort;
  log: Logger;
  hostId: string;
  /** Reads the budget workflow's memo; without it every registration waits for the budget. */
  client?: Client | undefined;
  budget?: HostBudgetSettings | undefined;
  policies?: ProjectPolicies | undefined;
  statfs: StatFs;
}

/**
 * `near`: the registration waits for the budget's decision. `far`: it tells the budget by signal,
 * off its path. `uncounted`: no count or byte limit applies to the image (neither the host's nor
 * its project's) and the disk is far from its watermark, so no decision could depend on the
 * budget counting it: the snapshot tells the budget nothing, neither its admission nor its end,
 * and the budget's totals come from its full counts (the reconciler's check, every interval).
 */
export type HeadroomVerdict = 'near' | 'far' | 'uncounted';

export type BudgetHeadroom = (input: { projectId: string; sizeBytes: number }) => Promise<HeadroomVerdict>;

export function createBudgetHeadroom({
  docker,
  log,
  hostId,
  client,
  budget = DEFAULT_HOST_BUDGET,
  policies,
  statfs,
}: BudgetHeadroomDeps): BudgetHeadroom {
  // The data root does not move while the engine runs; asking the engine each time would cost a
  // `docker info` per registration.
  let dataRoot: Promise<string> | undefined;

  async function diskPercent(): Promise<number | null> {
    try {
      dataRoot ??= budget.diskPath ? Promise.resolve(budget.diskPath) : docker.dataRoot();
      const s = await statfs(await dataRoot);
      const used = (s.blocks - s.bfree) * s.bsize;
      const total = used + s.bavail * s.bsize;
      return total > 0 ? (used / total) * 100 : null;
    } catch {
      dataRoot = undefined;
      return null;
    }
  }

  async function totals(): Promise<BudgetMemo | null> {
    if (!client) return null;
    try {
      const d = await client.workflow.getHandle(budgetWorkflowId(hostId)).describe();
      if (d.status.name !== 'RUNNING') return null;
      return (d.memo?.[BUDGET_MEMO_KEY] as BudgetMemo | undefined) ?? null;
    } catch (err) {
      log.debug({ err: err instanceof Error ? err.message : String(err) }, 'budget totals unknown');
      return null;
    }
  }

  return async ({ projectId, sizeBytes }) => {
    if (!client) return 'near';
    if (policies?.forProject(projectId).maxSnapshots !== undefined) return 'near';
    const disk = await diskPercent();
    // Unmeasurable: the budget has no disk watermark either (budgetFacts reports no disk).
    if (disk !== null && disk >= budget.diskHighPercent - HEADROOM_DISK_POINTS) return 'near';
    if (budget.maxSnapshots === undefined && budget.maxBytes === undefined) return 'uncounted';
    const known = await totals();
    if (!known) return 'near';
    if (budget.maxSnapshots !== undefined && known.count + 1 > budget.maxSnapshots * HEADROOM_SHARE)
      return 'near';
    if (budget.maxBytes !== undefined && known.bytes + sizeBytes > budget.maxBytes * HEADROOM_SHARE)
      return 'near';
    return 'far';
  };
}
