// The specification of the per-host budget (`budget:<hostId>`), as the snapshot workflows meet it:
// every registration is admitted and counted, an image that ends is released, and over a limit the
// least recently used snapshot is evicted at once, at registration time. The Docker activities
// (image facts, the host's limits) are scripted; the admission and the owners' answers are the
// real control activities, which only talk to Temporal (here: the time-skipping test server).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBudgetControlActivities } from '../../src/activities/budget-control-activities.js';
import { createReconcileControlActivities } from '../../src/activities/reconcile-control-activities.js';
import { createLogger } from '../../src/logging/logger.js';
import type { BudgetView } from '../../src/contract/budget-types.js';
import { budgetStateQuery, invalidateSignal, touchUpdate } from '../../src/contract/messages.js';
import { budgetWorkflowId } from '../../src/contract/names.js';
import { waitFor } from '../support/wait-for.js';
import { IMAGE_SIZE_BYTES, imageIdOf } from './support/fake-docker-hosts.js';
import { SnapshotDriver, newWorkItem } from './support/snapshot-driver.js';
import type { SpecEnvironment } from './support/spec-environment.js';
import { startSpecEnvironment } from './support/spec-environment.js';

let spec: SpecEnvironment;
let driver: SnapshotDriver;

// One host per test: each host has its own budget workflow, whose totals a test reads whole.
const HOSTS = { counting: 'counting-host', lru: 'lru-host', replacement: 'replacement-host' };
const MINUTE_MS = 60_000;

beforeAll(async () => {
  const log = createLogger({ level: 'error', name: 'budget-spec' });
  spec = await startSpecEnvironment({
    hosts: Object.values(HOSTS),
    controlActivities: (client) => ({
      ...createReconcileControlActivities({ client, log }),
      ...createBudgetControlActivities({ client, log }),
    }),
  });
  driver = new SnapshotDriver(spec);
});

afterAll(async () => {
  await spec?.teardown();
});

function limitTo(host: string, maxSnapshots: number): void {
  spec.docker.budgetLimits.set(host, {
    maxSnapshots,
    diskHighPercent: 85,
    diskLowPercent: 80,
    projectMaxSnapshots: {},
  });
}

async function budgetOf(host: string): Promise<BudgetView> {
  return await spec.client.workflow.getHandle(budgetWorkflowId(host)).query(budgetStateQuery);
}

async function untilBudget(
  host: string,
  what: string,
  accept: (view: BudgetView) => boolean,
): Promise<BudgetView> {
  return await waitFor(
    async () => {
      const view = await budgetOf(host);
      return accept(view) ? view : undefined;
    },
    { timeoutMs: 20_000, message: what },
  );
}

describe('admission: every registration counts toward its host, every ended image leaves it', () => {
  it('counts registered snapshots and releases one when it ends', async () => {
    const host = HOSTS.counting;
    limitTo(host, 10);
    const first = newWorkItem('count');
    const second = newWorkItem('count');
    const a = await driver.startWith(first, { image: `snap/${first}:1`, host });
    await driver.startWith(second, { image: `snap/${second}:1`, host });

    const counted = await budgetOf(host);
    expect(counted.totals).toMatchObject({ count: 2, bytes: 2 * IMAGE_SIZE_BYTES });
    expect(counted.entries.map((e) => e.workflowId).sort()).toEqual(
      [a.handle.workflowId, driver.handle(second).workflowId].sort(),
    );
    expect(counted.evictionsTotal).toBe(0);

    await a.handle.signal(invalidateSignal, { reason: 'spec: released' });
    await a.handle.result();
    const released = await untilBudget(host, 'the ended image released', (v) => v.totals.count === 1);
    expect(released.entries.map((e) => e.workflowId)).toEqual([driver.handle(second).workflowId]);
  });

  it('counts a work item once when a registration replaces its image', async () => {
    const host = HOSTS.replacement;
    limitTo(host, 1);
    const item = newWorkItem('replace');
    const { handle } = await driver.startWith(item, { image: `snap/${item}:1`, host });
    await spec.env.sleep(MINUTE_MS);
    const replaced = await driver.register(handle, { image: `snap/${item}:2`, host });
    expect(replaced.outcome).toBe('replaced');

    const view = await budgetOf(host);
    expect(view.totals.count).toBe(1);
    expect(view.entries).toMatchObject([
      { workflowId: handle.workflowId, imageId: imageIdOf(`snap/${item}:2`) },
    ]);
    expect(view.evictionsTotal).toBe(0);
    expect((await driver.state(handle)).current).toMatchObject({
      imageId: imageIdOf(`snap/${item}:2`),
      state: 'active',
    });
  });
});

describe('LRU eviction: over its limit, a host evicts its least recently used snapshot at registration', () => {
  it('evicts the snapshot used longest ago, judged by what the owners say now', async () => {
    const host = HOSTS.lru;
    limitTo(host, 2);
    const [oldButUsed, idle, newest] = [newWorkItem('lru'), newWorkItem('lru'), newWorkItem('lru')];
    const used = await driver.startWith(oldButUsed, { image: `snap/${oldButUsed}:1`, host });
    await spec.env.sleep(MINUTE_MS);
    const cold = await driver.startWith(idle, { image: `snap/${idle}:1`, host });
    await spec.env.sleep(MINUTE_MS);
    // A lookup the budget has not heard of: it asks the owners before it evicts.
    await used.handle.executeUpdate(touchUpdate, { args: [{}] });
    await spec.env.sleep(MINUTE_MS);

    const admitted = await driver.startWith(newest, { image: `snap/${newest}:1`, host });
    expect(admitted.registered.outcome).toBe('created');

    const evicted = await cold.handle.result();
    expect(evicted.last).toMatchObject({
      imageId: imageIdOf(`snap/${idle}:1`),
      state: 'removed',
      endReason: 'evicted',
    });
    expect(evicted.last?.message).toContain(`host ${host} may keep 2 snapshot(s)`);
    expect((await driver.state(used.handle)).current).toMatchObject({ state: 'active' });
    expect((await driver.state(admitted.handle)).current).toMatchObject({ state: 'active' });

    const view = await budgetOf(host);
    expect(view.totals.count).toBe(2);
    expect(view.evictionsTotal).toBe(1);
    expect(view.lastDecision?.evicted).toMatchObject([
      { workflowId: cold.handle.workflowId, limit: 'count' },
    ]);
    const recorded = spec.docker.budgetDecisions.filter((d) => d.host === host);
    expect(recorded.map((d) => d.decision.evicted.map((e) => e.workflowId))).toEqual([
      [cold.handle.workflowId],
    ]);
  });
});
