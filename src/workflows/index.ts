export * from './snapshot/workflow.js';
export * from './reconcile/workflow.js';
export * from './budget/workflow.js';
export * from './pull-request/workflow.js';
export * from './lease/workflow.js';
