// Which code started a workflow run, carried in its input: a run started by code that has a
// change knows it is new, so the change needs no patch marker in it (a live patch costs every run
// a marker and the SDK's `TemporalChangeVersion` upsert: two events, issue 19). Runs without it
// (histories of earlier releases, runs started by earlier code) decide by their patches as before.
// Pure: bundled into workflow code, and the API sets it when it starts a run.

/**
 * The snapshot workflow's generation, set by the API in the input of each run it starts (and
 * carried across continue-as-new):
 * - 1: the lean lifecycle (LEAN_LIFECYCLE_PATCH) without its marker; a recorded use of an image
 *   with a fixed TTL is not upserted to the memo on its own (it rides on the next publication:
 *   the use changes nothing a lookup decides on but when to record the next one).
 * Absent (0): decided by the patches, as every run before it.
 */
export const SNAPSHOT_RUN_GENERATION = 1;

/**
 * The pull request workflow's generation, set by the API when it starts one:
 * - 1: its looks in one activity (PULL_REQUEST_LOOKS_IN_ONE_ACTIVITY_PATCH) without the marker.
 */
export const PULL_REQUEST_RUN_GENERATION = 1;
