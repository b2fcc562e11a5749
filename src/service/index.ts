export * from './snapshot-error.js';
export * from './snapshot-service.js';
