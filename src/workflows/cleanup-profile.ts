// Moved into the table of activity profiles (shared/activity-profiles.ts). This re-export keeps
// snapshot-workflow.ts unchanged while it is being reshaped; phase B of issue 20 imports the table
// there and deletes this file.
export { CLEANUP_ACTIVITY_PROFILE } from './shared/activity-profiles.js';
