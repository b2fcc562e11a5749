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
export type { SnapshotPage, SnapshotSummary } from './service/list-snapshots.js';
export type * from './shared/types.js';
export { ErrorType } from './shared/errors.js';
export type { ErrorTypeName } from './shared/errors.js';
export * from './shared/limits.js';
export * from './shared/names.js';
