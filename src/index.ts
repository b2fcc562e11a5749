// The package entry: what routers and operators' scripts import. Re-exports only.
export { SnapkeeperApiError, SnapkeeperClient } from './client/snapkeeper-client.js';
export type {
  InvalidateOptions,
  ListSnapshotsOptions,
  LookupAnswer,
  RegisterSnapshotInput,
  SnapkeeperClientOptions,
} from './client/snapkeeper-client.js';
export { DEFAULT_SNAPSHOT_REPOSITORY, commitSnapshot, defaultSnapshotTag } from './client/commit-snapshot.js';
export type { CommitSnapshotOptions, CommittedSnapshot } from './client/commit-snapshot.js';
export type * from './contract/snapshot-types.js';
export { ErrorType } from './contract/errors.js';
export type { ErrorTypeName } from './contract/errors.js';
export * from './contract/limits.js';
export * from './contract/names.js';
export { SEARCH_ATTRIBUTES, SEARCH_ATTRIBUTE_TYPES } from './contract/search-attributes.js';
