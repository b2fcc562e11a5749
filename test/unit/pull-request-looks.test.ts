// A pull request workflow's looks in one activity (pull-request-looks-in-one-activity): the first at
// `since`, each later one at its delay after it, every look signalling what it finds; a retried
// attempt looks again at once and keeps the looks still ahead on the same clock. Visibility and the
// signals are stand-ins; the activity is the real one, run in a mock activity context.
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createPullRequestControlActivities } from '../../src/activities/pull-request-activities.js';
import type {
  PullRequestClosedResult,
  PullRequestLooksRequest,
} from '../../src/contract/pull-request-types.js';
import { createLogger } from '../../src/logging/logger.js';
import { FakeTemporal } from './api-fakes.js';

const pullRequest = { repository: 'o/r', number: 7 };
const branchTargets = [{ projectId: 'p', workItemId: 'w' }];
const request = (since: number, lookDelaysSeconds: number[]): PullRequestLooksRequest => ({
  kind: 'merged',
  pullRequest,
  deliveryId: 'd1',
  branchTargets,
  since: new Date(since).toISOString(),
  lookDelaysSeconds,
});

/** Visibility that finds nothing, and signals that are only recorded, with their time. */
function fakeClient() {
  const signals: number[] = [];
  const temporal = new FakeTemporal();
  const client = Object.assign(temporal, {
    workflow: {
      getHandle: () => ({
        signal: async () => {
          signals.push(Date.now());
        },
      }),
    },
  }) as unknown as Client;
  return { client, signals };
}

function looksOf(client: Client) {
  return createPullRequestControlActivities({ client, log: createLogger({ level: 'silent' }) })
    .lookForPullRequestTargets;
}

describe('lookForPullRequestTargets', () => {
  it('looks at once, then at each delay after `since`, signalling each time', async () => {
    const { client, signals } = fakeClient();
    const since = Date.now();
    const result: PullRequestClosedResult = await new MockActivityEnvironment().run(
      looksOf(client),
      request(since, [0.6, 0.3]),
    );
    expect(result.looks).toHaveLength(3);
    expect(result.looks.map((l) => l.found)).toEqual([1, 1, 1]);
    expect(signals).toHaveLength(3);
    // In order of their delays, none before its time.
    expect(signals[0]! - since).toBeLessThan(250);
    expect(signals[1]! - since).toBeGreaterThanOrEqual(300);
    expect(signals[2]! - since).toBeGreaterThanOrEqual(600);
  });

  it('a retried attempt looks again at once and waits only for the looks still ahead', async () => {
    const { client, signals } = fakeClient();
    const started = Date.now();
    // The attempt before this one began a second ago: its first two looks are past.
    const since = started - 1_000;
    const result: PullRequestClosedResult = await new MockActivityEnvironment().run(
      looksOf(client),
      request(since, [0.5, 1.4]),
    );
    expect(result.looks).toHaveLength(3);
    expect(signals[0]! - started).toBeLessThan(250);
    expect(signals[1]! - started).toBeLessThan(250);
    expect(signals[2]! - since).toBeGreaterThanOrEqual(1_400);
  });

  it('a cancellation while it waits ends it without the looks still ahead', async () => {
    const { client, signals } = fakeClient();
    const env = new MockActivityEnvironment();
    const run = env.run(looksOf(client), request(Date.now(), [30]));
    const deadline = Date.now() + 2_000;
    while (signals.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(signals).toHaveLength(1);
    env.cancel('WORKER_SHUTDOWN');
    await expect(run).rejects.toThrow();
    expect(signals).toHaveLength(1);
  });
});
