// The lease workflow on the time-skipping server: live (Running) until its execution timeout, the
// ttl, ends it with no timer of its own (a day passes in a moment); a release ends it at once
// with its reason; a release scoped to another work item (a registration naming the wrong lease)
// leaves it running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseReleaseSignal } from '../../src/contract/messages.js';
import { leaseWorkflowId } from '../../src/contract/names.js';
import { createLeaseService } from '../../src/service/lease-service.js';
import type { LeaseService } from '../../src/service/lease-service.js';
import { createLeaseLookup } from '../../src/service/lease-status.js';
import type { SpecEnvironment } from './support/spec-environment.js';
import { startSpecEnvironment } from './support/spec-environment.js';

let spec: SpecEnvironment;
let leases: LeaseService;

beforeAll(async () => {
  spec = await startSpecEnvironment({ hosts: [] });
  leases = createLeaseService({ client: spec.client });
});

afterAll(async () => {
  await spec?.teardown();
});

const status = async (leaseId: string) =>
  (await spec.client.workflow.getHandle(leaseWorkflowId(leaseId)).describe()).status.name;

describe('leaseWorkflow', () => {
  it('lives until its ttl, then times out (no timer of its own)', async () => {
    const { leaseId } = await leases.create({ projectId: 'p', workItemId: 'w', ttlSeconds: 86_400 });
    const lookup = createLeaseLookup(spec.client);
    expect(await lookup(leaseId)).toMatchObject({
      state: 'live',
      lease: { projectId: 'p', workItemId: 'w' },
    });
    await spec.env.sleep('23 hours');
    expect(await status(leaseId)).toBe('RUNNING');
    await spec.env.sleep('2 hours');
    expect(await status(leaseId)).toBe('TIMED_OUT');
    expect(await lookup(leaseId)).toEqual({ state: 'ended', status: 'TIMED_OUT' });
    const history = await spec.client.workflow.getHandle(leaseWorkflowId(leaseId)).fetchHistory();
    // Start, one workflow task, the timeout: no timer, no activity.
    expect(history.events?.length).toBeLessThanOrEqual(5);
  });

  it('ends at once on a release, with its reason; a second release finds it ended', async () => {
    const { leaseId } = await leases.create({ projectId: 'p', workItemId: 'w', ttlSeconds: 3600 });
    expect(await leases.release(leaseId, 'released through the API')).toBe('released');
    const result = await spec.client.workflow.getHandle(leaseWorkflowId(leaseId)).result();
    expect(result).toMatchObject({ reason: 'released through the API' });
    expect(await status(leaseId)).toBe('COMPLETED');
    expect(await leases.release(leaseId, 'again')).toBe('ended');
  });

  it('ignores a release scoped to another work item, and obeys one scoped to its own', async () => {
    const { leaseId } = await leases.create({ projectId: 'p', workItemId: 'w', ttlSeconds: 3600 });
    const handle = spec.client.workflow.getHandle(leaseWorkflowId(leaseId));
    await handle.signal(leaseReleaseSignal, { reason: 'wrong', projectId: 'p', workItemId: 'other' });
    await handle.signal(leaseReleaseSignal, { reason: 'wrong', projectId: 'q', workItemId: 'w' });
    await spec.env.sleep('1 minute');
    expect(await status(leaseId)).toBe('RUNNING');
    await handle.signal(leaseReleaseSignal, { reason: 'consumed', projectId: 'p', workItemId: 'w' });
    expect(await handle.result()).toMatchObject({ reason: 'consumed' });
  });
});
