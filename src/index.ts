// The package entry: what operators' scripts import. Re-exports only. Routers install the client
// package (@snapkeeper/client, packages/client) alone; it is re-exported here so that code written
// against 0.1.0's `snapkeeper` entry keeps working.
export {
  DEFAULT_SNAPSHOT_REPOSITORY,
  SnapkeeperApiError,
  SnapkeeperClient,
  commitSnapshot,
  defaultSnapshotTag,
  loadDocker,
} from '@snapkeeper/client';
export type {
  CommitSnapshotOptions,
  CommittedSnapshot,
  DockerLike,
  InvalidateOptions,
  ListSnapshotsOptions,
  LookupAnswer,
  RegisterSnapshotInput,
  SnapkeeperClientOptions,
} from '@snapkeeper/client';
export type * from './contract/snapshot-types.js';
export { ErrorType } from './contract/errors.js';
export type { ErrorTypeName } from './contract/errors.js';
export * from './contract/limits.js';
export * from './contract/names.js';
export { SEARCH_ATTRIBUTES, SEARCH_ATTRIBUTE_TYPES } from './contract/search-attributes.js';
