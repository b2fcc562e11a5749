import type { Client } from '@temporalio/client';
import { createBudgetControlActivities } from '../activities/budget-control-activities.js';
import type { Logger } from '../logging/logger.js';
import type { BudgetCheckResult } from '../contract/budget-types.js';

/**
 * Starts the budget entity of this worker's host if it is not running, and has it check the host
 * now: it learns the open snapshots of the host from visibility (after a restart, or when budgets
 * are first deployed) and evicts if the disk is already over its high watermark. It needs a
 * workflow worker and this host's Docker worker running, so call it once they run.
 */
export async function ensureBudgetWorkflow(
  client: Client,
  hostId: string,
  log: Logger,
): Promise<BudgetCheckResult> {
  const result = await createBudgetControlActivities({ client, log }).checkBudget({
    host: hostId,
    discover: true,
  });
  log.info(
    { hostId, usage: result.usage, evicted: result.evicted.map((e) => e.workflowId) },
    'budget of this host checked',
  );
  return result;
}
