// Activities of the per-host budget that measure the host (its limits as its Docker worker is
// configured, its disk, image sizes) and record its decisions: registered on its Docker queue.
import { statfs as nodeStatfs } from 'node:fs/promises';
import type { ProjectPolicies } from '../config/project-policy.js';
import type { BudgetDecision, BudgetFacts, BudgetLimits, DiskUsageFacts } from '../contract/budget-types.js';
import { imageKey } from '../contract/budget-types.js';
import { emptyRecord } from '../contract/keyed-records.js';
import type { DockerPort, ImageInfo } from '../docker/docker-port.js';
import type { Logger } from '../logging/logger.js';
import { heartbeating } from './heartbeat.js';
import { trueBytesNodes } from './true-bytes.js';
import type { UpkeepMetrics } from './upkeep-metrics.js';

/** The budget of the host this Docker worker runs beside (from its environment). */
export interface HostBudgetSettings {
  maxSnapshots?: number | undefined;
  maxBytes?: number | undefined;
  diskHighPercent: number;
  diskLowPercent: number;
  /** Where the engine's data root is visible to this process, when not at the engine's own path. */
  diskPath?: string | undefined;
}

export const DEFAULT_HOST_BUDGET: HostBudgetSettings = { diskHighPercent: 85, diskLowPercent: 80 };

type StatFs = (path: string) => Promise<{ bsize: number; blocks: number; bfree: number; bavail: number }>;

export interface BudgetHostDeps {
  docker: DockerPort;
  log: Logger;
  metrics?: UpkeepMetrics;
  budget?: HostBudgetSettings;
  policies?: ProjectPolicies;
  statfs?: StatFs;
}

export interface BudgetFactsInput {
  host: string;
  projectIds: string[];
  pendingImageIds: string[];
  /** Images whose freeable bytes the decision needs (only when the disk is over its watermark). */
  uniqueFor: string[];
  /**
   * Image keys (imageKey) of the snapshots the budget knows one by one, whose true bytes the byte
   * limit counts (budget-true-bytes); absent: not asked. The pending removals count as departing.
   */
  trueBytesFor?: string[];
}

export function createBudgetHostActivities({
  docker,
  log,
  metrics,
  budget = DEFAULT_HOST_BUDGET,
  policies,
  statfs = nodeStatfs,
}: BudgetHostDeps) {
  let warnedDisk = false;

  async function measureDisk(): Promise<DiskUsageFacts | null> {
    const dataRoot = budget.diskPath ?? (await docker.dataRoot());
    try {
      const s = await statfs(dataRoot);
      // As df computes Use%: what is used, out of what is used plus what an ordinary user may still
      // fill (the root-reserved blocks count as neither).
      const usedBytes = (s.blocks - s.bfree) * s.bsize;
      const totalBytes = usedBytes + s.bavail * s.bsize;
      return { dataRoot, totalBytes, usedBytes };
    } catch (err) {
      if (!warnedDisk) {
        warnedDisk = true;
        log.warn(
          { dataRoot, error: (err as Error).message },
          'cannot measure the disk of the Docker data root (set SNAPKEEPER_DISK_PATH where it is mounted); disk watermarks are off',
        );
      }
      return null;
    }
  }

  /** What removing the image frees: its own layers, i.e. its size less its parent's. */
  async function freeableBytes(ids: string[]): Promise<Record<string, number>> {
    const out = emptyRecord<number>();
    const parents = new Map<string, ImageInfo | null>();
    for (const id of ids) {
      const info = await docker.inspectImage(id);
      if (!info) continue;
      let parentSize = 0;
      if (info.parentId) {
        if (!parents.has(info.parentId)) parents.set(info.parentId, await docker.inspectImage(info.parentId));
        parentSize = parents.get(info.parentId)?.sizeBytes ?? 0;
      }
      out[id] = Math.max(info.sizeBytes - parentSize, 0);
    }
    return out;
  }

  return heartbeating({
    /** Limits, disk use, and the sizes a budget decision of this host needs, in one round trip. */
    async budgetFacts(input: BudgetFactsInput): Promise<BudgetFacts> {
      // Keyed by project id (input): no prototype, so no inherited name reads as a limit.
      const projectMaxSnapshots = emptyRecord<number>();
      for (const p of input.projectIds) {
        const max = policies?.forProject(p).maxSnapshots;
        if (max !== undefined) projectMaxSnapshots[p] = max;
      }
      const limits: BudgetLimits = {
        ...(budget.maxSnapshots !== undefined ? { maxSnapshots: budget.maxSnapshots } : {}),
        ...(budget.maxBytes !== undefined ? { maxBytes: budget.maxBytes } : {}),
        diskHighPercent: budget.diskHighPercent,
        diskLowPercent: budget.diskLowPercent,
        projectMaxSnapshots,
      };
      const disk = await measureDisk();
      if (disk && disk.totalBytes > 0)
        metrics?.recordDisk(input.host, (disk.usedBytes / disk.totalBytes) * 100);
      const pendingPresent = await freeableBytes(input.pendingImageIds);
      const facts: BudgetFacts = {
        limits,
        disk,
        pendingPresent,
        uniqueBytes: await freeableBytes(input.uniqueFor),
      };
      // Only a byte limit counts them: a host without one pays nothing for the image list.
      if (input.trueBytesFor && budget.maxBytes !== undefined) {
        facts.trueBytes = trueBytesNodes(
          await docker.listImages({ all: true }),
          new Set(input.trueBytesFor),
          new Set(input.pendingImageIds.map(imageKey)),
        );
      }
      return facts;
    },

    /**
     * Logs a decision that evicted something, or that left the disk over its watermarks with nothing
     * left to evict, and exports it as metrics of this host's worker.
     */
    async recordBudgetDecision(input: { host: string; decision: BudgetDecision }): Promise<void> {
      metrics?.recordBudget(input.host, input.decision);
      const shortfall = input.decision.diskShortfall;
      if (shortfall) {
        // The kubelet's FreeDiskSpaceFailed, in its words: what had to go, what could.
        log.warn(
          {
            host: input.host,
            reason: 'FreeDiskSpaceFailed',
            usedPercent: Math.round(shortfall.usedPercent * 10) / 10,
            neededBytes: shortfall.neededBytes,
            freeableBytes: shortfall.freeableBytes,
            diskHighPercent: input.decision.limits?.diskHighPercent,
            diskLowPercent: input.decision.limits?.diskLowPercent,
          },
          `disk over its high watermark and nothing left to evict: attempted to free ${shortfall.neededBytes} bytes, ` +
            `but only found ${shortfall.freeableBytes} bytes eligible to free`,
        );
      }
      if (input.decision.evicted.length > 0) {
        log.info(
          {
            host: input.host,
            trigger: input.decision.trigger,
            evicted: input.decision.evicted.map((e) => ({
              workflowId: e.workflowId,
              imageId: e.imageId,
              limit: e.limit,
            })),
            usage: input.decision.usage,
          },
          'budget evicted snapshots',
        );
      }
    },
  });
}

export type BudgetHostActivities = ReturnType<typeof createBudgetHostActivities>;
