// The lease service against a fake Temporal client: what a lease's start asks for (its id, the ttl
// as the execution timeout, the memo), and how a release tells a live, an ended and an unknown
// lease apart (a signal to a closed run fails like one to no run at all).
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { LEASE_DEFAULT_TTL_SECONDS } from '../../src/contract/lease-types.js';
import { WORKFLOW_TASK_QUEUE } from '../../src/contract/names.js';
import { createLeaseService } from '../../src/service/lease-service.js';
import { createLeaseLookup } from '../../src/service/lease-status.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const notFound = (id: string) => new WorkflowNotFoundError('not found', id, undefined);

function fakeClient(runs: Map<string, 'RUNNING' | 'COMPLETED' | 'TIMED_OUT'>) {
  const started: Array<{ type: string; options: Record<string, unknown> }> = [];
  const signals: Array<{ id: string; args: unknown[] }> = [];
  const workflow = {
    start: async (type: string, options: Record<string, unknown>) => {
      started.push({ type, options });
      runs.set(options.workflowId as string, 'RUNNING');
      return {};
    },
    getHandle: (id: string) => ({
      signal: async (_def: unknown, ...args: unknown[]) => {
        if (runs.get(id) !== 'RUNNING') throw notFound(id);
        signals.push({ id, args });
      },
      describe: async () => {
        const status = runs.get(id);
        if (!status) throw notFound(id);
        return {
          status: { name: status },
          memo: { lease: { projectId: 'p', workItemId: 'w', expiresAt: 'x' } },
        };
      },
    }),
  };
  const connection = { withDeadline: <R>(_d: number | Date, fn: () => Promise<R>) => fn() };
  return { client: { workflow, connection } as unknown as Client, started, signals };
}

describe('lease service', () => {
  it('starts lease:<uuid> on the workflow queue, ending by its execution timeout, with its memo', async () => {
    const runs = new Map();
    const { client, started } = fakeClient(runs);
    const grant = await createLeaseService({ client, now: () => NOW }).create({
      projectId: 'p',
      workItemId: 'w',
    });
    expect(grant.leaseId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(grant.expiresAt).toBe(new Date(NOW + LEASE_DEFAULT_TTL_SECONDS * 1000).toISOString());
    expect(started).toHaveLength(1);
    expect(started[0]?.type).toBe('leaseWorkflow');
    expect(started[0]?.options).toMatchObject({
      workflowId: `lease:${grant.leaseId}`,
      taskQueue: WORKFLOW_TASK_QUEUE,
      workflowExecutionTimeout: `${LEASE_DEFAULT_TTL_SECONDS} seconds`,
      args: [{ projectId: 'p', workItemId: 'w', ttlSeconds: LEASE_DEFAULT_TTL_SECONDS }],
      memo: { lease: { projectId: 'p', workItemId: 'w', expiresAt: grant.expiresAt } },
    });
  });

  it('releases a live lease, says ended for a closed one and unknown for none', async () => {
    const runs = new Map<string, 'RUNNING' | 'COMPLETED' | 'TIMED_OUT'>([
      ['lease:a', 'RUNNING'],
      ['lease:b', 'TIMED_OUT'],
    ]);
    const { client, signals } = fakeClient(runs);
    const leases = createLeaseService({ client });
    expect(await leases.release('a', 'done', { projectId: 'p', workItemId: 'w' })).toBe('released');
    expect(signals).toEqual([{ id: 'lease:a', args: [{ reason: 'done', projectId: 'p', workItemId: 'w' }] }]);
    expect(await leases.release('b', 'done')).toBe('ended');
    expect(await leases.release('c', 'done')).toBe('unknown');
  });

  it('looks a lease up: live while running (with its memo), ended otherwise or when unknown', async () => {
    const runs = new Map<string, 'RUNNING' | 'COMPLETED' | 'TIMED_OUT'>([
      ['lease:a', 'RUNNING'],
      ['lease:b', 'COMPLETED'],
    ]);
    const lookup = createLeaseLookup(fakeClient(runs).client);
    expect(await lookup('a')).toEqual({
      state: 'live',
      lease: { projectId: 'p', workItemId: 'w', expiresAt: 'x' },
    });
    expect(await lookup('b')).toEqual({ state: 'ended', status: 'COMPLETED' });
    expect(await lookup('c')).toEqual({ state: 'ended', status: 'NOT_FOUND' });
  });
});
