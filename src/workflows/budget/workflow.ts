// The budget entity of one Docker host (`budget:<hostId>`): it serialises every budget decision of
// that host, so two registrations racing each other are decided one after the other, against the
// snapshots the first one left. Deterministic code only; the host is measured by activities.
// This file is the wiring: each handler waits its turn and delegates to the host budget
// (host-budget.ts); the main loop only continues as new.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { BudgetControlActivities } from '../../activities/budget-control-activities.js';
import type { BudgetHostActivities } from '../../activities/budget-host-activities.js';
import type { ReconcileControlActivities } from '../../activities/reconcile-control-activities.js';
import type { AdmitRequest, ReleaseSignal } from '../../contract/budget-types.js';
import type { BudgetCarry, BudgetWorkflowInput } from '../../contract/budget-workflow-input.js';
import { ErrorType } from '../../contract/errors.js';
import {
  budgetAdmitUpdate,
  budgetAdmittedSignal,
  budgetCheckUpdate,
  budgetReleaseSignal,
  budgetStateQuery,
} from '../../contract/messages.js';
import { dockerTaskQueue } from '../../contract/names.js';
import { ACTIVITY_PROFILES } from '../shared/activity-profiles.js';
import {
  BUDGET_LEAN_DECISIONS_PATCH,
  BUDGET_OWN_KEYS_PATCH,
  BUDGET_TOTALS_IN_MEMO_PATCH,
  CONTINUE_AS_NEW_DECISION_RECORDED_PATCH,
  usePatch,
} from '../shared/patches.js';
import { SerialLane, continueAsNewDue } from '../shared/workflow-helpers.js';
import { HostBudget } from './host-budget.js';

export type {
  BudgetCarry,
  BudgetWorkflowInput,
  BudgetWorkflowOptions,
} from '../../contract/budget-workflow-input.js';

const DEFAULT_CONTINUE_AS_NEW_AFTER = 2000;
const DEFAULT_PENDING_EXPIRY_SECONDS = 600;

export async function budgetWorkflow(input: BudgetWorkflowInput): Promise<void> {
  const { hostId } = input;
  const options = input.options ?? {};
  const continueAsNewAfter = options.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER;
  // In this order, as every recorded history has them (shared/patches.ts: what each old branch does).
  const ownKeys = usePatch(BUDGET_OWN_KEYS_PATCH);
  const totalsInMemo = usePatch(BUDGET_TOTALS_IN_MEMO_PATCH);
  // Once, at the run's first task: a run decides here for good (a budget run lives for thousands
  // of events, so its one marker costs nothing per lifecycle).
  const lean = usePatch(BUDGET_LEAN_DECISIONS_PATCH);
  const budget = new HostBudget({
    hostId,
    carry: input.carry,
    coldSetLimit: options.coldSetLimit,
    pendingExpiryMs: (options.pendingExpirySeconds ?? DEFAULT_PENDING_EXPIRY_SECONDS) * 1000,
    host: proxyActivities<BudgetHostActivities>({
      ...ACTIVITY_PROFILES.budgetHost.options,
      taskQueue: dockerTaskQueue(hostId),
    }),
    control: proxyActivities<ReconcileControlActivities & BudgetControlActivities>(
      ACTIVITY_PROFILES.budgetControl.options,
    ),
    ownKeys,
    totalsInMemo,
    lean,
  });

  // Every decision, admission and release waits its turn, so none sees the totals change under it.
  const lane = new SerialLane();

  setHandler(budgetAdmitUpdate, (req) => lane.run(() => budget.admit(req)), {
    validator: (req) => {
      if (!isAdmitRequest(req)) {
        throw ApplicationFailure.nonRetryable(
          'admit needs {workflowId, projectId, imageId, sizeBytes, createdAt, lastUsedAt, replaces?}',
          ErrorType.invalidRequest,
        );
      }
    },
  });
  setHandler(budgetAdmittedSignal, (req) =>
    lane.run(async () => {
      if (isAdmitRequest(req)) await budget.admitted(req);
      else log.warn('malformed budget admission ignored', { req });
    }),
  );
  setHandler(budgetReleaseSignal, (signal) =>
    lane.run(async () => {
      if (isReleaseSignal(signal)) budget.release(signal);
      else log.warn('malformed budget release ignored', { signal });
    }),
  );
  setHandler(budgetCheckUpdate, (req) => lane.run(() => budget.check(req?.discover ?? false)));
  setHandler(budgetStateQuery, () => budget.view());

  // Main loop: all the work is in the handlers; continue as new between them.
  budget.publish();
  for (;;) {
    await condition(() => continueAsNewDue(continueAsNewAfter) && lane.busy === 0);
    await condition(allHandlersFinished);
    if (lane.busy > 0) continue;
    // Due in the task of a rejected admission (a speculative task, see the snapshot workflow's
    // loop), this continue-as-new is a command replay gets no activation for: the marker is one
    // it announces, so replay wakes in that task too (issue 17).
    usePatch(CONTINUE_AS_NEW_DECISION_RECORDED_PATCH);
    const carry: BudgetCarry = budget.toCarry();
    await continueAsNew<typeof budgetWorkflow>({ hostId, options, carry });
  }
}

function isAdmitRequest(req: AdmitRequest | undefined): req is AdmitRequest {
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

function isReleaseSignal(signal: ReleaseSignal | undefined): signal is ReleaseSignal {
  return (
    typeof signal?.workflowId === 'string' &&
    typeof signal.imageId === 'string' &&
    typeof signal.projectId === 'string' &&
    typeof signal.sizeBytes === 'number'
  );
}
