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
// The history was written before 0.1.0: it carries no `lookups-from-memo` marker. Since that patch
// and the six others from before 0.1.0 were deprecated (src/workflows/shared/patches.ts, a16741c),
// the code takes their new branch on replay, so this history now fails earlier, at its first
// command that branch changes (event 11: the new branch publishes the memo first), before it
// reaches the SDK's defect, as every run started before 0.1.0 would (CHANGELOG: drain them first).
// The test pins that exact error, so nothing else (a missing fixture, a bundling error) can pass
// for it. The SDK defect itself is no longer reached by any fixture: record a history of it on
// this code to pin it again.
import { readFile } from 'node:fs/promises';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../scripts/lib/repo-root.js';
import { webpackConfigHook, workflowsPath } from '../../src/worker/workflow-bundle-options.js';

const HISTORY = repoPath('test', 'fixtures', 'chaos', 'snapshot-update-after-task-timeout.history.bin');

describe('replay of a history with an update accepted after a timed-out workflow task', () => {
  it('a run from before 0.1.0 no longer replays once its patches are deprecated (it hid a Temporal SDK defect)', async () => {
    const history = proto.temporal.api.history.v1.History.decode(await readFile(HISTORY));
    expect(history.events?.length).toBe(58);
    const replay = Worker.runReplayHistory(
      { workflowsPath, bundlerOptions: { webpackConfigHook } },
      history,
      'snapshot:chaos-budget:w151-aee8f3',
    );
    await expect(replay).rejects.toThrow(
      /ModifyWorkflowPropertiesMachine does not handle HistoryEvent\(id: 11, ActivityTaskScheduled\)/,
    );
  }, 180_000);
});
