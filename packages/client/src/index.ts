// @snapkeeper/client: what a router imports to keep its snapshots with snapkeeper. Re-exports only.
export { SnapkeeperApiError, SnapkeeperClient } from './snapkeeper-client.js';
export type {
  InvalidateOptions,
  ListSnapshotsOptions,
  LookupAnswer,
  RegisterSnapshotInput,
  SnapkeeperClientOptions,
} from './snapkeeper-client.js';
export {
  DEFAULT_SNAPSHOT_REPOSITORY,
  commitSnapshot,
  defaultSnapshotTag,
  loadDocker,
} from './commit-snapshot.js';
export type {
  CommitSnapshotOptions,
  CommitLeaseOption,
  CommittedSnapshot,
  DockerLike,
  LeaseTaker,
} from './commit-snapshot.js';
export * from './contract.js';
