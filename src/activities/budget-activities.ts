// Activities of the per-host budget. The host ones measure the host (its limits as its Docker
// worker is configured, its disk, image sizes) on its Docker queue; the control ones reach the
// budget workflow through the Temporal client, for the snapshot workflow and the reconciler.
import { statfs as nodeStatfs } from 'node:fs/promises';
import type { ProjectPolicies } from '../config/project-policy.js';
import type { DockerPort, ImageInfo } from '../docker/docker-port.js';
import type { Logger } from '../logging/logger.js';
import type { UpkeepMetrics } from './upkeep-metrics.js';
import type {
  AdmitRequest,
  AdmitResult,
  BudgetCheckRequest,
  BudgetCheckResult,
  BudgetDecision,
  BudgetEntry,
  BudgetFacts,
  BudgetLimits,
  DiskUsageFacts,
  HostScan,
} from '../contract/budget-types.js';
import { lruOrder } from '../contract/budget-types.js';
import { budgetAdmitUpdate, budgetCheckUpdate } from '../contract/messages.js';
import type { SnapshotOwnerView } from '../contract/reconcile-types.js';
import type { BudgetWorkflowOptions } from '../service/budget-workflow-start.js';
import { budgetWorkflowStart } from '../service/budget-workflow-start.js';
import { heartbeating } from './heartbeat.js';
import { mapLimit } from './map-limit.js';
import type { ControlDeps } from './reconcile-activities.js';
import {
  describeSnapshotOwner,
  listWorkflowIdsPage,
  openSnapshotsQuery,
  requireClient,
} from './reconcile-activities.js';

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
    const out: Record<string, number> = {};
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
      const projectMaxSnapshots: Record<string, number> = {};
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
      return {
        limits,
        disk,
        pendingPresent: await freeableBytes(input.pendingImageIds),
        uniqueBytes: await freeableBytes(input.uniqueFor),
      };
    },

    /** Logs a decision that evicted something, and exports it as metrics of this host's worker. */
    async recordBudgetDecision(input: { host: string; decision: BudgetDecision }): Promise<void> {
      metrics?.recordBudget(input.host, input.decision);
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

export interface BudgetControlDeps extends ControlDeps {
  /** Options for budget workflows this process starts (tests shorten history limits). */
  budgetWorkflowOptions?: BudgetWorkflowOptions;
}

const SCAN_CONCURRENCY = 16;

/**
 * The totals of a host's snapshots and its `coldLimit` least recently used ones, from the answers of
 * its open snapshot workflows: what a budget scan returns, bounded whatever the host holds.
 */
export function summarizeHostSnapshots(
  host: string,
  views: SnapshotOwnerView[],
  coldLimit: number,
): HostScan {
  const entries: BudgetEntry[] = [];
  const seen = new Set<string>();
  let unanswered = 0;
  for (const v of views) {
    if (seen.has(v.workflowId)) continue;
    seen.add(v.workflowId);
    if (v.status === 'error') unanswered++;
    const c = v.current;
    if (v.status !== 'running' || !c || c.host !== host) continue;
    entries.push({
      workflowId: v.workflowId,
      projectId: c.projectId,
      imageId: c.imageId,
      sizeBytes: c.sizeBytes,
      createdAt: c.createdAt,
      lastUsedAt: c.lastUsedAt,
    });
  }
  entries.sort(lruOrder);
  const projectCounts: Record<string, number> = {};
  let bytes = 0;
  for (const e of entries) {
    bytes += e.sizeBytes;
    projectCounts[e.projectId] = (projectCounts[e.projectId] ?? 0) + 1;
  }
  const limit = Math.max(1, coldLimit);
  const first = entries[limit];
  return {
    totals: { count: entries.length, bytes, projectCounts },
    coldest: entries.slice(0, limit),
    threshold: first
      ? { workflowId: first.workflowId, createdAt: first.createdAt, lastUsedAt: first.lastUsedAt }
      : null,
    unanswered,
  };
}

export function createBudgetControlActivities({ client, budgetWorkflowOptions }: BudgetControlDeps) {
  return heartbeating({
    /**
     * Counts a host's open snapshots: every open snapshot workflow visibility shows on the host,
     * plus `alsoAsk` (admitted a moment ago, maybe not visible yet), each asked what it holds.
     */
    async scanHostSnapshots(input: {
      host: string;
      coldLimit: number;
      alsoAsk: string[];
    }): Promise<HostScan> {
      const c = requireClient(client);
      const ids = new Set<string>();
      let token: string | null = null;
      do {
        const page = await listWorkflowIdsPage(c, openSnapshotsQuery(input.host), token, 1000);
        for (const id of page.workflowIds) ids.add(id);
        token = page.next;
      } while (token !== null);
      for (const id of input.alsoAsk) ids.add(id);
      const views = await mapLimit([...ids], SCAN_CONCURRENCY, (id) => describeSnapshotOwner(c, id));
      return summarizeHostSnapshots(input.host, views, input.coldLimit);
    },

    /** Admits a newly registered image to its host's budget, starting the budget if needed. */
    async admitToBudget(input: AdmitRequest & { host: string }): Promise<AdmitResult> {
      const { host, ...entry } = input;
      return requireClient(client).workflow.executeUpdateWithStart(budgetAdmitUpdate, {
        args: [entry],
        startWorkflowOperation: budgetWorkflowStart(host, budgetWorkflowOptions),
      });
    },

    /** Re-checks a host's budget now (the reconciler does, once a run): disk, stale entries. */
    async checkBudget(input: BudgetCheckRequest & { host: string }): Promise<BudgetCheckResult> {
      const { host, ...request } = input;
      return requireClient(client).workflow.executeUpdateWithStart(budgetCheckUpdate, {
        args: [request],
        startWorkflowOperation: budgetWorkflowStart(host, budgetWorkflowOptions),
      });
    },
  });
}

export type BudgetControlActivities = ReturnType<typeof createBudgetControlActivities>;
