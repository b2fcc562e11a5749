// The budget says when its host's disk is over the high watermark and nothing is left to evict
// (the kubelet's FreeDiskSpaceFailed): the decision in its state carries diskShortfall, and the host
// is told (recordBudgetDecision: a log line and the metrics) even by an admission that evicted
// nothing, and told again when the shortfall is over, so its metric clears. Behind the
// budget-disk-shortfall patch; the recorded histories replay without it (workflow-replay.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBudgetControlActivities } from '../../src/activities/budget-control-activities.js';
import { createReconcileControlActivities } from '../../src/activities/reconcile-control-activities.js';
import type { BudgetView } from '../../src/contract/budget-types.js';
import { budgetStateQuery } from '../../src/contract/messages.js';
import { budgetWorkflowId } from '../../src/contract/names.js';
import { createLogger } from '../../src/logging/logger.js';
import { waitFor } from '../support/wait-for.js';
import { IMAGE_SIZE_BYTES } from './support/fake-docker-hosts.js';
import { SnapshotDriver, newWorkItem } from './support/snapshot-driver.js';
import type { SpecEnvironment } from './support/spec-environment.js';
import { startSpecEnvironment } from './support/spec-environment.js';

const HOST = 'full-disk-host';
const TOTAL = 100 * IMAGE_SIZE_BYTES;
let spec: SpecEnvironment;
let driver: SnapshotDriver;

beforeAll(async () => {
  const log = createLogger({ level: 'error', name: 'budget-shortfall-spec' });
  spec = await startSpecEnvironment({
    hosts: [HOST],
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

function diskAt(percent: number): void {
  spec.docker.diskUsage.set(HOST, {
    dataRoot: '/data',
    totalBytes: TOTAL,
    usedBytes: (TOTAL * percent) / 100,
  });
}

async function untilBudget(what: string, accept: (view: BudgetView) => boolean): Promise<BudgetView> {
  return await waitFor(
    async () => {
      const view = await spec.client.workflow.getHandle(budgetWorkflowId(HOST)).query(budgetStateQuery);
      return accept(view) ? view : undefined;
    },
    { timeoutMs: 20_000, message: what },
  );
}

const toldHost = () => spec.docker.budgetDecisions.filter((d) => d.host === HOST).map((d) => d.decision);

describe('disk over its watermarks with nothing left to evict', () => {
  it('the admission records the shortfall and tells the host; the end of it is told too', async () => {
    // 95 % used, and the only snapshot is the one being admitted: nothing the budget may evict.
    diskAt(95);
    const item = newWorkItem('full');
    await driver.startWith(item, { image: `snap/${item}:1`, host: HOST });
    const view = await untilBudget('a decision with a shortfall', (v) => !!v.lastDecision?.diskShortfall);
    expect(view.lastDecision).toMatchObject({
      trigger: 'admit',
      evicted: [],
      diskShortfall: {
        usedPercent: expect.closeTo(95),
        neededBytes: 15 * IMAGE_SIZE_BYTES,
        freeableBytes: 0,
      },
    });
    // Told although it evicted nothing: the worker logs FreeDiskSpaceFailed and sets its metric.
    const told = toldHost();
    expect(told.at(-1)).toMatchObject({ trigger: 'admit', diskShortfall: { freeableBytes: 0 } });

    // Room again: the next admission's decision carries no shortfall, and is told, so the metric clears.
    diskAt(50);
    const other = newWorkItem('full');
    await driver.startWith(other, { image: `snap/${other}:1`, host: HOST });
    await waitFor(async () => toldHost().length > told.length, {
      timeoutMs: 20_000,
      message: 'the end of the shortfall was not told',
    });
    expect(toldHost().at(-1)?.diskShortfall).toBeUndefined();
    expect(
      (await untilBudget('the shortfall cleared', (v) => !v.lastDecision?.diskShortfall)).lastDecision,
    ).toMatchObject({ trigger: 'admit', usage: { diskUsedPercent: 50 } });

    // Nothing to say: an admission with room records nothing more on the host.
    const count = toldHost().length;
    const third = newWorkItem('full');
    await driver.startWith(third, { image: `snap/${third}:1`, host: HOST });
    await untilBudget('the third admission counted', (v) => v.totals.count === 3);
    expect(toldHost()).toHaveLength(count);
  });
});
