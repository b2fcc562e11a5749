import type { BudgetEntry } from '../../src/contract/budget-types.js';

/**
 * A budget entry of project `p` for the unit tests of the budget's decisions: image `sha256:<id>`,
 * created and last used `minute` minutes into 2026 (a smaller minute is less recently used).
 */
export function budgetEntry(id: string, sizeBytes: number, minute: number): BudgetEntry {
  const at = new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
  return {
    workflowId: `snapshot:p:${id}`,
    projectId: 'p',
    imageId: `sha256:${id}`,
    sizeBytes,
    createdAt: at,
    lastUsedAt: at,
  };
}
