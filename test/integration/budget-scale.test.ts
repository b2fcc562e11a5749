// The budget of a host that counts 20,000 snapshots: bounded carry across continue-as-new, and an
// admission whose cost does not grow with the host. A fake engine, the real dev server and the real
// workers and workflows in this process.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { WORKFLOW_TASK_QUEUE, budgetWorkflowId, snapshotWorkflowId } from '../../src/contract/names.js';
import type { BudgetCarry, budgetWorkflow } from '../../src/workflows/budget/workflow.js';
import { BudgetLedger } from '../../src/workflows/budget/ledger.js';
import type { BudgetView } from '../../src/contract/budget-types.js';
import { budgetCheckUpdate, budgetStateQuery, stateQuery } from '../../src/contract/messages.js';
import { waitFor } from '../support/wait-for.js';
import type { FakeHost } from './fake-host-fixture.js';
import { addManagedImage, historyStats, startFakeHost } from './fake-host-fixture.js';

const COUNTED = 20_000;
const REAL = 30;
const LATER = 12;
const TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024;

let host: FakeHost;
const run = randomBytes(3).toString('hex');
/** Room for a few more: the later registrations fill it, then each one evicts exactly one. */
const LIMIT = COUNTED + REAL + 5;

beforeAll(async () => {
  host = await startFakeHost({ name: 'bscale', env: { SNAPKEEPER_MAX_SNAPSHOTS: String(LIMIT) } });
});

afterAll(async () => {
  await host?.stop();
});

async function register(i: number) {
  const ids = { projectId: `bscale-${run}`, workItemId: `real-${i}` };
  const { image, imageId } = addManagedImage(host.docker, i, ids, 60, 7);
  await host.service.register({ ...ids, image, host: host.hostId });
  return { ...ids, imageId, workflowId: snapshotWorkflowId(ids.projectId, ids.workItemId) };
}

const budgetHandle = () =>
  host.client.workflow.getHandle<typeof budgetWorkflow>(budgetWorkflowId(host.hostId));

describe('budget at the size of a large host', () => {
  it(`counts ${COUNTED} snapshots across continue-as-new, and evicts exactly the least recently used at admission`, async () => {
    // Real snapshots first: they are the least recently used of the host.
    const real = [];
    for (let i = 0; i < REAL; i++) real.push(await register(i));
    // Far from the limit, registrations tell the budget after they answered: it counts them soon.
    const before = await waitFor(
      async () => {
        const view = (await budgetHandle().query(budgetStateQuery)) as BudgetView;
        return view.totals.count === REAL ? view : undefined;
      },
      { timeoutMs: 30_000, message: 'the budget did not count the real snapshots' },
    );

    // The host's budget as earlier runs would have left it after admitting 20,000 more snapshots,
    // used more recently than the real ones: what one run hands the next, through Temporal.
    const ledger = new BudgetLedger();
    for (const e of before.entries) ledger.admit(e, new Date().toISOString());
    const later = new Date(Date.now() + 86_400_000).toISOString();
    for (let i = 0; i < COUNTED; i++) {
      ledger.admit(
        {
          workflowId: snapshotWorkflowId(`bscale-${run}-other-${i % 25}`, `w-${i}`),
          projectId: `bscale-${run}-other-${i % 25}`,
          imageId: `sha256:${(i + 5_000_000).toString(16).padStart(16, '0').repeat(4)}`,
          sizeBytes: 50_000_000,
          createdAt: later,
          lastUsedAt: later,
        },
        later,
      );
    }
    const carry: BudgetCarry = { ledger: ledger.toCarry(), evictionsTotal: 0, lastDecision: null };
    const carryBytes = Buffer.byteLength(JSON.stringify(carry));
    expect(carryBytes).toBeLessThan(TEMPORAL_PAYLOAD_LIMIT / 4);
    await budgetHandle().terminate('replaced by a run carrying 20,000 snapshots');
    await host.client.workflow.start<typeof budgetWorkflow>('budgetWorkflow', {
      workflowId: budgetWorkflowId(host.hostId),
      taskQueue: WORKFLOW_TASK_QUEUE,
      args: [{ hostId: host.hostId, options: { continueAsNewAfterEvents: 120 }, carry }],
    });
    expect(((await budgetHandle().query(budgetStateQuery)) as BudgetView).totals.count).toBe(COUNTED + REAL);

    // Each admission past the limit evicts exactly one: the least recently used real snapshot.
    const admitted = [];
    const firstRunId = (await budgetHandle().describe()).runId;
    for (let i = REAL; i < REAL + LATER; i++) admitted.push(await register(i));
    const expectedEvicted = real.slice(0, COUNTED + REAL + LATER - LIMIT);
    const view = (await budgetHandle().query(budgetStateQuery)) as BudgetView;
    expect(view.totals.count).toBe(LIMIT);
    expect(view.evictionsTotal).toBe(expectedEvicted.length);
    for (const r of expectedEvicted) {
      await waitFor(
        async () =>
          (await host.client.workflow.getHandle(r.workflowId).query(stateQuery)).last?.endReason ===
          'evicted',
        { timeoutMs: 30_000, message: `${r.workflowId} was not evicted` },
      );
    }
    for (const r of [...real.slice(expectedEvicted.length), ...admitted]) {
      const state = await host.client.workflow.getHandle(r.workflowId).query(stateQuery);
      expect(state.current?.imageId).toBe(r.imageId);
    }
    // It continued as new meanwhile, carrying the totals.
    expect((await budgetHandle().describe()).runId).not.toBe(firstRunId);

    // No admission carried or asked for anything that grows with the host.
    const stats = await historyStats(host.client, budgetWorkflowId(host.hostId));
    const largestActivityPayload = await largestActivityPayloadBytes(budgetWorkflowId(host.hostId));
    expect(stats.runs).toBeGreaterThan(2);
    expect(largestActivityPayload).toBeLessThan(32 * 1024);
    expect(stats.maxEventBytes).toBeLessThan(TEMPORAL_PAYLOAD_LIMIT / 4);

    // A full count corrects the totals to what the host's open workflows hold (the 20,000 were
    // only in the carry), and knows them all one by one again.
    const checked = await budgetHandle().executeUpdate(budgetCheckUpdate, { args: [{ discover: true }] });
    expect(checked.usage.snapshots).toBe(REAL + LATER - expectedEvicted.length);
    const after = (await budgetHandle().query(budgetStateQuery)) as BudgetView;
    expect(after.complete).toBe(true);
    expect(after.entries.map((e) => e.workflowId).sort()).toEqual(
      [...real.slice(expectedEvicted.length), ...admitted].map((r) => r.workflowId).sort(),
    );
    console.info(
      `budget carry with ${COUNTED + REAL} snapshots: ${carryBytes} bytes; ${stats.runs} runs, ` +
        `largest event ${stats.maxEventBytes} bytes, largest activity input/result ${largestActivityPayload} bytes`,
    );
  }, 600_000);
});

describe('budget totals without a list of every snapshot', () => {
  it('drop when a snapshot ends, by its release signal, with no full count', async () => {
    const a = await register(900);
    const b = await register(901);
    // Far from the limit again (the full count above corrected the totals), both were admitted by
    // signal after they answered: wait until the budget counts them.
    const before = await waitFor(
      async () => {
        const view = (await budgetHandle().query(budgetStateQuery)) as BudgetView;
        const ids = view.entries.map((e) => e.workflowId);
        return ids.includes(a.workflowId) && ids.includes(b.workflowId) ? view : undefined;
      },
      { timeoutMs: 30_000, message: 'the budget did not count the two new snapshots' },
    );
    const scanned = before.lastDecision?.at;
    await host.service.invalidate(a.projectId, a.workItemId, 'test: ends one snapshot');
    const after = await waitFor(
      async () => {
        const view = (await budgetHandle().query(budgetStateQuery)) as BudgetView;
        return view.totals.count === before.totals.count - 1 ? view : undefined;
      },
      { timeoutMs: 30_000, message: 'the budget did not count the ended snapshot out' },
    );
    expect(after.entries.map((e) => e.workflowId)).not.toContain(a.workflowId);
    expect(after.entries.map((e) => e.workflowId)).toContain(b.workflowId);
    expect(after.pending.map((p) => p.imageId)).toContain(a.imageId);
    // Counted out by the release alone: no decision (and so no full count) ran meanwhile.
    expect(after.lastDecision?.at).toBe(scanned);
  });
});

/** The largest activity input or result in any run of the workflow. */
async function largestActivityPayloadBytes(workflowId: string): Promise<number> {
  let largest = 0;
  for await (const r of host.client.workflow.list({ query: `WorkflowId='${workflowId}'` })) {
    const history = await host.client.workflow.getHandle(workflowId, r.runId).fetchHistory();
    for (const e of history.events ?? []) {
      const payloads =
        e.activityTaskScheduledEventAttributes?.input ?? e.activityTaskCompletedEventAttributes?.result;
      if (!payloads) continue;
      largest = Math.max(largest, temporal.api.common.v1.Payloads.encode(payloads).finish().length);
    }
  }
  return largest;
}
