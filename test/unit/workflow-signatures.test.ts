// The service starts the budget and pull-request workflows by name, typed by the signatures the
// contract declares (so it imports no workflow code). These checks, run by `npm run typecheck`,
// keep those signatures the workflow functions' own.
import { describe, expectTypeOf, it } from 'vitest';
import type { BudgetWorkflowFunction } from '../../src/contract/budget-workflow-input.js';
import type { PullRequestClosedWorkflowFunction } from '../../src/contract/pull-request-types.js';
import type { budgetWorkflow } from '../../src/workflows/budget/workflow.js';
import type { pullRequestClosedWorkflow } from '../../src/workflows/pull-request/workflow.js';

describe('workflow signatures in the contract', () => {
  it('are the workflow functions’ own', () => {
    expectTypeOf<typeof budgetWorkflow>().toEqualTypeOf<BudgetWorkflowFunction>();
    expectTypeOf<typeof pullRequestClosedWorkflow>().toEqualTypeOf<PullRequestClosedWorkflowFunction>();
  });
});
