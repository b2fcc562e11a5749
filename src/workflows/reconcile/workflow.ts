// The reconciler: for each host, every managed image must be owned by an open snapshot workflow,
// be younger than the grace period, or go. This is what removes the image of a terminated workflow,
// of a router that crashed between commit and register, and of the days before snapkeeper. It also
// ends the snapshot workflows whose image someone removed behind their back.
//
// A host may hold tens of thousands of managed images, so nothing here handles them all at once:
// one child workflow per host walks the images in pages (bounded activity inputs and results) and
// continues as new when its history grows, carrying only a cursor and a report with capped lists.
// This file is the wiring: the walk over the pages and continue-as-new. What each page decides is
// in host-pages.ts, the report in report.ts, its size limits in bounds.ts.
import { TimeoutType } from '@temporalio/common';
import {
  ActivityFailure,
  TimeoutFailure,
  continueAsNew,
  executeChild,
  log,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import { dockerTaskQueue } from '../../contract/names.js';
import type {
  ReconcileHostCarry,
  ReconcileHostInput,
  ReconcileReport,
  ReconcileResult,
  ReconcileWorkflowInput,
} from '../../contract/reconcile-types.js';
import { ACTIVITY_PROFILES } from '../shared/activity-profiles.js';
import { failureMessage } from '../shared/failure-message.js';
import { RECONCILE_RESULTS_BOUNDED_PATCH, usePatch } from '../shared/patches.js';
import { HOST_REPORT_MAX_BYTES, boundReport, boundResult } from './bounds.js';
import type { ReconcileControl, ReconcileDocker } from './host-pages.js';
import { HostPages } from './host-pages.js';
import { ReportRecorder, emptyReport } from './report.js';

export type {
  ReconcileWorkflowInput,
  ReconcileResult,
  ReconcileReport,
  ReconcileHostInput,
} from '../../contract/reconcile-types.js';

const DEFAULT_IMAGES_PER_PAGE = 200;
const DEFAULT_WORKFLOWS_PER_PAGE = 500;
const DEFAULT_CONTINUE_AS_NEW_AFTER = 2000;
/** Continue-as-new well before Temporal's history size warning (10 MiB). */
const CONTINUE_AS_NEW_AFTER_BYTES = 4 * 1024 * 1024;

const control: ReconcileControl = proxyActivities(ACTIVITY_PROFILES.reconcileControl.options);

export async function reconcileWorkflow(input: ReconcileWorkflowInput): Promise<ReconcileResult> {
  // Runs from before results were bounded replay without the cut (shared/patches.ts).
  const bounded = usePatch(RECONCILE_RESULTS_BOUNDED_PATCH);
  const hosts = input.hosts?.length ? [...new Set(input.hosts)] : await control.listKnownHosts();
  const parent = workflowInfo().workflowId;
  const reports = await Promise.all(
    hosts.map(async (host): Promise<ReconcileReport> => {
      const hostInput: ReconcileHostInput = {
        host,
        orphanGraceSeconds: input.orphanGraceSeconds,
        dryRun: input.dryRun,
        ...(input.hostTimeoutSeconds !== undefined ? { hostTimeoutSeconds: input.hostTimeoutSeconds } : {}),
        ...(input.paging ? { paging: input.paging } : {}),
      };
      try {
        return await executeChild(reconcileHostWorkflow, {
          workflowId: `${parent}/${host}`,
          args: [hostInput],
          staticSummary: `Reconcile host ${host}${input.dryRun ? ' (dry run)' : ''}`,
        });
      } catch (err) {
        const report = emptyReport(hostInput, new Date(Date.now()).toISOString());
        report.error = failureMessage(err);
        report.finishedAt = new Date(Date.now()).toISOString();
        return report;
      }
    }),
  );
  return bounded ? boundResult(reports) : { reports };
}

/** One host's reconcile, page by page; continues as new when its history grows. */
export async function reconcileHostWorkflow(input: ReconcileHostInput): Promise<ReconcileReport> {
  const { host, dryRun } = input;
  const bounded = usePatch(RECONCILE_RESULTS_BOUNDED_PATCH);
  // The report is this run's result, its carry and an activity's input: each a payload.
  const payload = (r: ReconcileReport) => (bounded ? boundReport(r, HOST_REPORT_MAX_BYTES) : r);
  const docker: ReconcileDocker = proxyActivities({
    ...ACTIVITY_PROFILES.reconcileHost.options,
    taskQueue: dockerTaskQueue(host),
    // A host whose Docker worker is down is reported as such instead of holding the run forever.
    scheduleToStartTimeout: `${input.hostTimeoutSeconds ?? 60} seconds`,
  });
  const report = input.carry?.report ?? emptyReport(input, new Date(Date.now()).toISOString());
  // The run's listing on the host's worker, the same across continue-as-new.
  const listing = `${workflowInfo().workflowId}:${workflowInfo().firstExecutionRunId}`;
  const pages = new HostPages({
    host,
    dryRun,
    orphanGraceSeconds: input.orphanGraceSeconds,
    listing,
    docker,
    control,
    record: new ReportRecorder(report),
  });

  const walk = await walkPages(input, listing, pages, docker);
  if (walk.error !== null) {
    report.error = walk.error;
    log.warn('reconcile of a host failed', { host, error: report.error });
  } else if (walk.handOver) {
    report.generations = (report.generations ?? 0) + 1;
    const carry: ReconcileHostCarry = { phase: walk.phase, cursor: walk.cursor, report: payload(report) };
    await continueAsNew<typeof reconcileHostWorkflow>({ ...input, carry });
  }
  report.finishedAt = new Date(Date.now()).toISOString();

  // The host's worker records the run in its metrics, unless it is the part that is down.
  if (!walk.unreachable) {
    try {
      await docker.recordReconcileReport(payload(report));
    } catch (err) {
      log.warn('could not record the reconcile report on the host', { host, error: failureMessage(err) });
    }
  }
  if (!dryRun && !report.error) {
    // Budgets are enforced at registration; this catches what changed between registrations
    // (disk filled by other means, owners terminated) once an interval.
    try {
      await control.checkBudget({ host, discover: true });
    } catch (err) {
      log.warn('budget check failed', { host, error: failureMessage(err) });
    }
  }
  return payload(report);
}

interface Walk {
  phase: ReconcileHostCarry['phase'];
  cursor: string | null;
  /** The history grew past its bound: the next run goes on from phase and cursor. */
  handOver: boolean;
  error: string | null;
  /** The failure was the host's Docker worker not picking up (schedule-to-start timeout). */
  unreachable: boolean;
}

/** The host's managed images page by page, then the open workflows that name the host. */
async function walkPages(
  input: ReconcileHostInput,
  listing: string,
  pages: HostPages,
  docker: ReconcileDocker,
): Promise<Walk> {
  const imagesPerPage = input.paging?.imagesPerPage ?? DEFAULT_IMAGES_PER_PAGE;
  const workflowsPerPage = input.paging?.workflowsPerPage ?? DEFAULT_WORKFLOWS_PER_PAGE;
  const continueAsNewAfter = input.paging?.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER;
  const historyFull = () =>
    workflowInfo().continueAsNewSuggested ||
    workflowInfo().historyLength >= continueAsNewAfter ||
    workflowInfo().historySize >= CONTINUE_AS_NEW_AFTER_BYTES;
  const walk: Walk = {
    phase: input.carry?.phase ?? 'images',
    cursor: input.carry?.cursor ?? null,
    handOver: false,
    error: null,
    unreachable: false,
  };
  try {
    for (;;) {
      if (walk.phase === 'images') {
        const page = await docker.listManagedImagesPage({
          listing,
          after: walk.cursor,
          limit: imagesPerPage,
        });
        await pages.decideImages(page.images);
        walk.cursor = page.next;
        if (walk.cursor === null) walk.phase = 'workflows';
      } else {
        const page = await control.listOpenSnapshotWorkflowsPage({
          host: input.host,
          pageToken: walk.cursor,
          pageSize: workflowsPerPage,
        });
        await pages.checkUnlabelledOwners(page.workflowIds);
        walk.cursor = page.next;
        if (walk.cursor === null) break;
      }
      if (historyFull()) {
        walk.handOver = true;
        break;
      }
    }
  } catch (err) {
    walk.error = failureMessage(err);
    walk.unreachable = isScheduleToStartTimeout(err);
  }
  return walk;
}

function isScheduleToStartTimeout(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START
  );
}
