// How a host's budget workflow is started by whoever reaches it first (an admission or a check, as
// an update-with-start): one definition, so every caller agrees on its id, queue and summary.
import { WithStartWorkflowOperation } from '@temporalio/client';
import { WORKFLOW_TASK_QUEUE, WORKFLOW_TYPES, budgetWorkflowId } from '../contract/names.js';
import type { BudgetWorkflowFunction, BudgetWorkflowOptions } from '../contract/budget-workflow-input.js';

export type { BudgetWorkflowOptions } from '../contract/budget-workflow-input.js';

export function budgetWorkflowStart(host: string, options?: BudgetWorkflowOptions) {
  return new WithStartWorkflowOperation<BudgetWorkflowFunction>(WORKFLOW_TYPES.budget, {
    workflowId: budgetWorkflowId(host),
    taskQueue: WORKFLOW_TASK_QUEUE,
    args: [{ hostId: host, ...(options ? { options } : {}) }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `Snapshot budget of host ${host}`,
    staticDetails:
      `Serialises the budget decisions of Docker host \`${host}\`: snapshot count, bytes, disk watermarks. ` +
      'Over a limit, it evicts the least recently used snapshots.',
  });
}
