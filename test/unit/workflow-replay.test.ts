// Running workflows must survive an upgrade: histories recorded by the code before the fast path
// (scripts/record-histories.ts, in a checkout of that code) replay without a nondeterminism error
// against today's workflows. No server: the replay worker runs the histories in this process.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { webpackConfigHook, workflowsPath } from '../../src/worker/workflow-bundle-options.js';

const FIXTURES = new URL('../fixtures/histories/', import.meta.url);

describe('workflow replay', () => {
  it('replays the histories recorded before the fast path (touches, replacement, blocked removal, TTL, budget)', async () => {
    const files = (await readdir(FIXTURES)).filter((f) => f.endsWith('.pb')).sort();
    expect(files.length).toBeGreaterThanOrEqual(5);
    const histories = await Promise.all(
      files.map(async (f) => ({
        // The workflows check their own id: the recorder wrote `snapshot:rec:open` as `snapshot_rec_open`.
        workflowId: f.replace(/\.pb$/, '').replaceAll('_', ':'),
        history: temporal.api.history.v1.History.decode(await readFile(join(FIXTURES.pathname, f))),
      })),
    );
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowsPath, bundlerOptions: { webpackConfigHook } },
      histories,
    )) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
