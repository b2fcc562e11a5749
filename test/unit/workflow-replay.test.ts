// Running workflows must survive an upgrade: histories recorded by earlier code replay without a
// nondeterminism error against today's workflows. No server: the replay worker runs the histories
// in this process. The recordings (test/fixtures/histories/README.md says how each was made):
// - the top-level files: the code before the fast path (ca3e6a3^);
// - one folder per release, each with a manifest.json naming every file's workflow id; these
//   carry every message the snapshot workflow takes, including ones the recording code had no
//   handler for (the `used` signal before 14b9177), with more events after each.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { webpackConfigHook, workflowsPath } from '../../src/worker/workflow-bundle-options.js';

const FIXTURES = new URL('../fixtures/histories/', import.meta.url).pathname;

interface ManifestEntry {
  file: string;
  workflowId: string;
  scenario: string;
}

interface Recorded {
  workflowId: string;
  history: temporal.api.history.v1.History;
}

async function decode(dir: string, file: string): Promise<temporal.api.history.v1.History> {
  return temporal.api.history.v1.History.decode(await readFile(join(dir, file)));
}

/** The first recording: no manifest; the recorder wrote `snapshot:rec:open` as `snapshot_rec_open`. */
async function topLevel(): Promise<Recorded[]> {
  const files = (await readdir(FIXTURES)).filter((f) => f.endsWith('.pb')).sort();
  return Promise.all(
    files.map(async (f) => ({
      workflowId: f.replace(/\.pb$/, '').replaceAll('_', ':'),
      history: await decode(FIXTURES, f),
    })),
  );
}

async function release(name: string): Promise<Recorded[]> {
  const dir = join(FIXTURES, name);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as ManifestEntry[];
  return Promise.all(
    manifest.map(async (m) => ({ workflowId: m.workflowId, history: await decode(dir, m.file) })),
  );
}

interface Failure {
  workflowId: string;
  message: string;
}

async function replay(histories: Recorded[]): Promise<Failure[]> {
  const failures: Failure[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(
    { workflowsPath, bundlerOptions: { webpackConfigHook } },
    histories,
  )) {
    replayed++;
    if (result.error) failures.push({ workflowId: result.workflowId, message: result.error.message });
  }
  if (replayed !== histories.length) {
    failures.push({ workflowId: '-', message: `replayed ${replayed} of ${histories.length}` });
  }
  return failures;
}

describe('workflow replay', () => {
  it('replays the histories recorded before the fast path (touches, replacement, blocked removal, TTL, budget)', async () => {
    const histories = await topLevel();
    expect(histories.length).toBeGreaterThanOrEqual(5);
    expect(await replay(histories)).toEqual([]);
  }, 120_000);

  it('replays every message recorded by the previous release, db14c84 (used signals, refused registrations and links, merges, ends, rollback, continue-as-new, reconcile, pull request, budget)', async () => {
    const histories = await release('db14c84');
    expectEveryKind(histories);
    expect(await replay(histories)).toEqual([]);
  }, 180_000);

  // The `used` signal's handler came without a patch (14b9177). A used signal that reached a run of
  // the code before it (an API upgraded before the workers) was buffered there with no effect; the
  // code since then handles it (a touch and a memo upsert), so such a run, replayed, schedules a
  // command its history does not hold as soon as any event follows the signal. No patch can mend
  // this afterwards: neither kind of history carries a marker, and both are alike up to the signal,
  // so the code must choose one, and it keeps the previous release's (db14c84, above). These two
  // are pinned so the limit stays known; such runs are wedged since the db14c84 upgrade (the
  // reconciler's repair, a reset of an owner whose query fails, should free them; not tried here).
  it('replays the release before the used signal (27f0425), except the runs a used signal reached before more events', async () => {
    const histories = await release('27f0425');
    expectEveryKind(histories);
    const failures = await replay(histories);
    expect(failures.map((f) => f.workflowId)).toEqual(['snapshot:rec:used', 'snapshot:rec:continued']);
    for (const f of failures) expect(f.message).toMatch(/Nondeterminism/);
  }, 180_000);
});

/** A release's recording holds every workflow type, and used signals in several runs. */
function expectEveryKind(histories: Recorded[]): void {
  expect(histories.length).toBeGreaterThanOrEqual(15);
  const types = new Set(
    histories.map((h) => h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name),
  );
  expect([...types].sort()).toEqual([
    'budgetWorkflow',
    'pullRequestClosedWorkflow',
    'reconcileHostWorkflow',
    'reconcileWorkflow',
    'snapshotWorkflow',
  ]);
  const used = histories.filter((h) =>
    h.history.events?.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'used'),
  );
  expect(used.length).toBeGreaterThanOrEqual(3);
}
