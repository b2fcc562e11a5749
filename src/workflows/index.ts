export * from './snapshot-workflow.js';
