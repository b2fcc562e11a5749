// Control activities that make one client call after another (a listing's pages, a pull request's
// signals) must start none after their cancellation: the SDK aborts a call only from an 'abort'
// listener, which never fires for a signal that was aborted before the call began. The client here
// is a fake whose calls are counted; the abort of calls in flight is proven against a gRPC server
// in until-cancelled.test.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createControlActivities } from '../../src/activities/create-activities.js';
import { createLogger } from '../../src/logging/logger.js';

const never = new Promise<never>(() => undefined);

function fakeClient(overrides: {
  schedules?: () => AsyncIterable<{ scheduleId: string }>;
  signal?: (workflowId: string) => Promise<void>;
}): Client {
  const fake = {
    options: { namespace: 'default' },
    withAbortSignal: <R>(_signal: AbortSignal, fn: () => Promise<R>) => fn(),
    schedule: { list: overrides.schedules ?? async function* () {} },
    workflow: {
      list: async function* () {},
      getHandle: (workflowId: string) => ({ signal: () => (overrides.signal ?? (() => never))(workflowId) }),
    },
    workflowService: { listWorkflowExecutions: async () => ({ executions: [], nextPageToken: null }) },
  };
  return fake as unknown as Client;
}

function activitiesOf(client: Client) {
  return createControlActivities({ client, log: createLogger({ level: 'silent' }) });
}

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

describe('control activities start no client call after their cancellation', () => {
  it('listKnownHosts pulls no further page once cancelled', async () => {
    let pulled = 0;
    let release = () => undefined as void;
    const client = fakeClient({
      schedules: async function* () {
        for (let i = 0; i < 100; i++) {
          pulled++;
          // Each item stands for a page call the listing makes; the second one waits.
          if (i === 1) await new Promise<void>((resolve) => (release = resolve));
          yield { scheduleId: `snapkeeper-reconcile-h${i}` };
        }
      },
    });
    const env = new MockActivityEnvironment();
    const run = env.run(activitiesOf(client).listKnownHosts);
    await until('the second page', () => pulled === 2);
    env.cancel('WORKER_SHUTDOWN');
    await expect(run).rejects.toBeInstanceOf(CancelledFailure);
    release();
    await sleep(50);
    // The item already fetched may be looked at; the listing is not pulled on.
    expect(pulled).toBe(2);
  });

  it('signalPullRequestTargets starts no signal once cancelled', async () => {
    const started: string[] = [];
    const aborts: Array<() => void> = [];
    const client = fakeClient({
      // Each signal waits until the test ends it, as an aborted call ends: its lane is then free.
      signal: (id) => {
        started.push(id);
        return new Promise<void>((_, reject) => aborts.push(() => reject(new Error('aborted'))));
      },
    });
    const branchTargets = Array.from({ length: 40 }, (_, i) => ({ projectId: 'p', workItemId: `w${i}` }));
    const env = new MockActivityEnvironment();
    const run = env.run(activitiesOf(client).signalPullRequestTargets, {
      kind: 'merged' as const,
      pullRequest: { repository: 'o/r', number: 7 },
      deliveryId: 'd1',
      branchTargets,
    });
    // 32 in flight (SIGNAL_CONCURRENCY); the other 8 wait for a free lane.
    await until('32 signals in flight', () => started.length === 32);
    env.cancel('WORKER_SHUTDOWN');
    await expect(run).rejects.toBeInstanceOf(CancelledFailure);
    for (const abort of aborts) abort();
    await sleep(50);
    expect(started).toHaveLength(32);
  });
});
