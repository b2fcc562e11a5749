// Names of the reconciler and budget entities, which operators script against. Pure: bundled into
// workflow code.

export const BUDGET_WORKFLOW_ID_PREFIX = 'budget:';
export const RECONCILE_SCHEDULE_ID_PREFIX = 'snapkeeper-reconcile-';

/** The budget entity workflow of one Docker host. */
export function budgetWorkflowId(hostId: string): string {
  return `${BUDGET_WORKFLOW_ID_PREFIX}${hostId}`;
}

/** The schedule that reconciles one Docker host, created by that host's Docker worker. */
export function reconcileScheduleId(hostId: string): string {
  return `${RECONCILE_SCHEDULE_ID_PREFIX}${hostId}`;
}

export function hostOfReconcileSchedule(scheduleId: string): string | undefined {
  return scheduleId.startsWith(RECONCILE_SCHEDULE_ID_PREFIX)
    ? scheduleId.slice(RECONCILE_SCHEDULE_ID_PREFIX.length) || undefined
    : undefined;
}
