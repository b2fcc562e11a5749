export * from './commit-snapshot.js';
export * from './snapkeeper-client.js';
