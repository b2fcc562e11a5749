// Which pollers count as a running worker: the server remembers a poller for minutes after its
// last poll, so only recent ones do.
import { describe, expect, it } from 'vitest';
import { POLLER_FRESH_MS, describePollers, livePollers } from '../../src/service/task-queue-pollers.js';

describe('task queue pollers', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');

  it('counts a poller seen within the last long poll, not one silent for longer or never seen', () => {
    const pollers = [
      { identity: 'fresh', lastAccessTime: new Date(now - 5_000).toISOString() },
      { identity: 'idle-long-poll', lastAccessTime: new Date(now - POLLER_FRESH_MS + 1_000).toISOString() },
      { identity: 'gone', lastAccessTime: new Date(now - POLLER_FRESH_MS - 1_000).toISOString() },
      { identity: 'unknown', lastAccessTime: null },
    ];
    expect(livePollers(pollers, now).map((p) => p.identity)).toEqual(['fresh', 'idle-long-poll']);
  });

  it('asks for the right queue and type and reads the server timestamps', async () => {
    const requests: unknown[] = [];
    const client = {
      options: { namespace: 'ns' },
      workflowService: {
        describeTaskQueue: async (request: unknown) => {
          requests.push(request);
          return {
            pollers: [
              { identity: 'w1@host', lastAccessTime: { seconds: 1_767_225_600, nanos: 500_000_000 } },
              { identity: 'w2@host', lastAccessTime: null },
            ],
          };
        },
      },
    } as unknown as Parameters<typeof describePollers>[0];
    const pollers = await describePollers(client, 'snapkeeper-docker-h1', 'activity');
    expect(pollers).toEqual([
      { identity: 'w1@host', lastAccessTime: '2026-01-01T00:00:00.500Z' },
      { identity: 'w2@host', lastAccessTime: null },
    ]);
    expect(requests[0]).toMatchObject({
      namespace: 'ns',
      taskQueue: { name: 'snapkeeper-docker-h1' },
      taskQueueType: 2,
    });
  });
});
