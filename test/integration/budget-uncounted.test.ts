// Registrations that no count or byte limit applies to, on a disk far from its watermark, cost the
// host's budget nothing (issue 19): no `admitted` signal, no awaited admission, no `release` at the
// end; the budget learns the host's snapshots from its full count (the reconciler's check). Real
// dev server and a private engine; the host has the default budget (disk watermarks only).
import type { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { createBudgetControlActivities } from '../../src/activities/budget-control-activities.js';
import { budgetStateQuery } from '../../src/contract/messages.js';
import { budgetWorkflowId, snapshotWorkflowId } from '../../src/contract/names.js';
import { createLogger } from '../../src/logging/logger.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { uniqueIds } from '../support/test-env.js';
import { useFileWorker } from '../support/file-worker.js';
import { waitFor } from '../support/wait-for.js';

const files = useFileWorker('uncounted');
const HOST = files.hostId;
const DEADLINE = { timeoutMs: 60_000 };

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

async function events(workflowId: string): Promise<HistoryEvent[]> {
  return (await files.worker.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

/** What the workflow told its budget: signals sent, and the awaited admission. */
function budgetMessages(history: HistoryEvent[]): string[] {
  return history.flatMap((e) => {
    const signal = e.signalExternalWorkflowExecutionInitiatedEventAttributes;
    if (signal?.workflowExecution?.workflowId === budgetWorkflowId(HOST))
      return [`signal ${signal.signalName}`];
    const activity = e.activityTaskScheduledEventAttributes?.activityType?.name;
    return activity === 'admitToBudget' ? ['admitToBudget'] : [];
  });
}

describe('a host without count or byte limits, its disk far from the watermark', () => {
  it('registrations and endings tell the budget nothing; its full count finds the snapshots', async () => {
    const [kept, ended] = [uniqueIds('uncounted-kept'), uniqueIds('uncounted-ended')];
    const keptImg = await makeSnapshotImage(files.docker, { ...kept, labels: 'managed' });
    const endedImg = await makeSnapshotImage(files.docker, { ...ended, labels: 'managed' });
    await files.worker.service.register({ ...kept, image: keptImg.image, host: HOST });
    await files.worker.service.register({ ...ended, image: endedImg.image, host: HOST });
    await files.worker.service.invalidate(ended.projectId, ended.workItemId, 'spec: ended');
    const endedId = snapshotWorkflowId(ended.projectId, ended.workItemId);
    expect((await files.worker.client.workflow.getHandle(endedId).result()).last).toMatchObject({
      imageId: endedImg.imageId,
      state: 'removed',
    });
    expect(await imageExists(files.docker, endedImg.imageId)).toBe(false);

    const keptId = snapshotWorkflowId(kept.projectId, kept.workItemId);
    expect(budgetMessages(await events(keptId))).toEqual([]);
    expect(budgetMessages(await events(endedId))).toEqual([]);

    // The reconciler's check (the same activity it runs) counts the host: the one left open.
    const control = createBudgetControlActivities({
      client: files.worker.client,
      log: createLogger({ level: 'silent' }),
    });
    const checked = await control.checkBudget({ host: HOST, discover: true });
    expect(checked.usage.snapshots).toBe(1);
    const view = await files.worker.client.workflow.getHandle(budgetWorkflowId(HOST)).query(budgetStateQuery);
    expect(view.totals.count).toBe(1);
    expect(view.entries.map((e) => e.workflowId)).toEqual([keptId]);
    // Nothing reached the budget from the lifecycles themselves.
    const budgetHistory = await events(budgetWorkflowId(HOST));
    expect(budgetHistory.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName).length).toBe(
      0,
    );

    await files.worker.service.invalidate(kept.projectId, kept.workItemId, 'spec: done');
    await waitFor(async () => !(await imageExists(files.docker, keptImg.imageId)), {
      ...DEADLINE,
      message: 'the kept image was not removed',
    });
  });
});
