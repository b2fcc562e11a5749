// A history written by a live snapkeeper worker that the same code cannot replay. The full chaos
// run of seed 379959073 left snapshot:chaos-budget:w151-aee8f3 with every workflow task failing on
// "[TMPRL1100] Nondeterminism error: Update machine does not handle this event: HistoryEvent(id: 26,
// UpsertWorkflowSearchAttributes)", so it stayed open and its registration retries answered 503.
//
// What happened (test/fixtures/chaos/snapshot-update-after-task-timeout.json, events 19–34): the
// TTL timer fired (20); the workflow task for it timed out because its worker was SIGKILLed (22);
// the router's retry of the registration arrived with the next workflow task (23). The worker that
// took it ran the TTL expiry first (events 26–33: search attributes, patch markers, the budget
// release, the cleanup activity and its notice timer) and accepted the update after them (34). On
// replay the SDK hands the timer and the update to the workflow in one activation, the update is
// accepted before the timer's continuation runs, and the commands no longer match the history.
// Nothing in workflow code decides that order: the worker splits or joins the activation. Seen with
// @temporalio/worker 1.24.0, the newest release; upstream reports of the same family:
// temporalio/sdk-rust#943 (closed) and #1146 (open, "inconsistent collapsing of WFTs").
//
// The test pins the defect to this exact error, so nothing else (a missing fixture, a bundling
// error) can pass for it. When it starts to fail because the replay succeeds, the SDK is fixed:
// make it expect a clean replay.
import { readFile } from 'node:fs/promises';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../scripts/lib/repo-root.js';
import { webpackConfigHook, workflowsPath } from '../../src/worker/workflow-bundle-options.js';

const HISTORY = repoPath('test', 'fixtures', 'chaos', 'snapshot-update-after-task-timeout.history.bin');

describe('replay of a history with an update accepted after a timed-out workflow task', () => {
  it('the SDK cannot replay the history its live worker wrote (a Temporal SDK defect, not fixed in 1.24.0)', async () => {
    const history = proto.temporal.api.history.v1.History.decode(await readFile(HISTORY));
    expect(history.events?.length).toBe(58);
    const replay = Worker.runReplayHistory(
      { workflowsPath, bundlerOptions: { webpackConfigHook } },
      history,
      'snapshot:chaos-budget:w151-aee8f3',
    );
    await expect(replay).rejects.toThrow(
      /Update machine does not handle this event: HistoryEvent\(id: 26, UpsertWorkflowSearchAttributes\)/,
    );
  }, 180_000);
});
