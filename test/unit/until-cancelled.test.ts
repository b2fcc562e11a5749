// Every control activity, with a real Temporal client whose calls never get an answer (an HTTP/2
// server that takes each gRPC stream and never replies, as a budget workflow without its workers
// never answers an update): cancelling the activity must end it at once and abort the call it is
// waiting on, whichever activity it is and whichever client call it is on.
import { once } from 'node:events';
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import { createServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CancelledFailure } from '@temporalio/common';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlActivities } from '../../src/activities/create-activities.js';
import { createControlActivities } from '../../src/activities/create-activities.js';
import { untilCancelled } from '../../src/activities/until-cancelled.js';
import { createLogger } from '../../src/logging/logger.js';

interface Call {
  method: string;
  closed: boolean;
}

const calls: Call[] = [];
const sessions = new Set<Http2Session>();
const server = createServer();
server.on('session', (s) => {
  sessions.add(s);
  s.on('close', () => sessions.delete(s));
});
server.on('stream', (stream: ServerHttp2Stream, headers) => {
  const call = { method: String(headers[':path']).split('/').pop() ?? '', closed: false };
  calls.push(call);
  stream.on('close', () => (call.closed = true));
  stream.resume();
});

let connection: Connection;
let client: Client;

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  connection = Connection.lazy({ address: `127.0.0.1:${port}` });
  client = new Client({ connection });
});

afterAll(async () => {
  await connection?.close();
  for (const s of sessions) s.destroy();
  server.close();
});

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Fails at the first moment within `ms` that `ok` does not hold. */
async function holdsFor(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!ok()) throw new Error(`no longer true: ${what}`);
    await sleep(10);
  }
}

/** Settles to what the activity ended with, or to 'still running' after `ms`. */
function within(ms: number, run: Promise<unknown>): Promise<unknown> {
  return Promise.race([
    run.then(
      () => 'answered',
      (err: unknown) => err,
    ),
    sleep(ms).then(() => 'still running'),
  ]);
}

const now = new Date().toISOString();
const pullRequest = { repository: 'o/r', number: 7 };

// Typed by the activities themselves: a new control activity does not compile here until it is
// given an input, and so cannot escape this test.
const inputs: { [K in keyof ControlActivities]: Parameters<ControlActivities[K]> } = {
  listKnownHosts: [],
  listOpenSnapshotWorkflowsPage: [{ host: 'h1', pageToken: null, pageSize: 10 }],
  describeSnapshotWorkflows: [{ workflowIds: ['snapshot:p:w'] }],
  signalVanished: [{ workflowId: 'snapshot:p:w', imageId: 'sha256:x', message: 'gone' }],
  scanHostSnapshots: [{ host: 'h1', coldLimit: 5, alsoAsk: ['snapshot:p:w'] }],
  admitToBudget: [
    {
      host: 'h1',
      workflowId: 'snapshot:p:w',
      projectId: 'p',
      imageId: `sha256:${'0'.repeat(64)}`,
      sizeBytes: 1,
      createdAt: now,
      lastUsedAt: now,
    },
  ],
  checkBudget: [{ host: 'h1' }],
  signalPullRequestTargets: [{ kind: 'merged', pullRequest, deliveryId: 'd1', branchTargets: [] }],
  lookForPullRequestTargets: [
    { kind: 'merged', pullRequest, deliveryId: 'd1', branchTargets: [], since: now, lookDelaysSeconds: [60] },
  ],
  isPullRequestMerged: [pullRequest],
};

function start<K extends keyof ControlActivities>(
  name: K,
  args: Parameters<ControlActivities[K]> = inputs[name],
) {
  const activities = createControlActivities({ client, log: createLogger({ level: 'silent' }) });
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 15_000 });
  const fn = activities[name] as (...args: unknown[]) => Promise<unknown>;
  const first = calls.length;
  const run = env.run(fn, ...args);
  return { env, run, first };
}

describe('control activities cancelled while a Temporal client call waits', () => {
  it.each(Object.keys(inputs) as Array<keyof ControlActivities>)(
    '%s ends at once with its cancellation and aborts the call, starting no other',
    async (name) => {
      const { env, run, first } = start(name);
      await until(`${name}'s first client call`, () => calls.length > first);
      const pending = calls[first]!;
      expect(await within(300, run)).toBe('still running');

      env.cancel('WORKER_SHUTDOWN');
      const outcome = await within(2_000, run);
      expect(outcome).toBeInstanceOf(CancelledFailure);
      await until(`${pending.method} to be aborted`, () => pending.closed, 2_000);
      // A call started after the cancellation would not be aborted (the SDK listens for an abort
      // that has already happened): none may start. Nothing answers here, so a body that went on
      // would start its next call within milliseconds.
      const started = () => calls.slice(first).map((c) => `${c.method}${c.closed ? '' : ' (open)'}`);
      await holdsFor('no call after the cancellation', () => started().length === 1, 300).catch(
        () => undefined,
      );
      expect(started()).toEqual([pending.method]);
    },
  );

  it('abort every query of a fan-out in flight, and start none of the ones still to come', async () => {
    const workflowIds = Array.from({ length: 40 }, (_, i) => `snapshot:p:w${i}`);
    const { env, run, first } = start('describeSnapshotWorkflows', [{ workflowIds }]);
    // 16 at a time (QUERY_CONCURRENCY); the other 24 wait for a free slot.
    await until('16 queries in flight', () => calls.length - first === 16);
    const inFlight = calls.slice(first);

    env.cancel('WORKER_SHUTDOWN');
    expect(await within(2_000, run)).toBeInstanceOf(CancelledFailure);
    await until('the 16 to be aborted', () => inFlight.every((c) => c.closed), 2_000);
    await holdsFor('no query after the cancellation', () => calls.length - first === 16, 300).catch(
      () => undefined,
    );
    expect(calls.length - first).toBe(16);
  });

  it("do not abort each other's calls: the scope is per activity", async () => {
    const a = start('isPullRequestMerged');
    await until('the first call', () => calls.length > a.first);
    const b = start('listKnownHosts');
    await until('the second call', () => calls.length > b.first);
    const callA = calls[a.first]!;
    const callB = calls[b.first]!;

    a.env.cancel('WORKER_SHUTDOWN');
    expect(await within(2_000, a.run)).toBeInstanceOf(CancelledFailure);
    await until('the first call to be aborted', () => callA.closed, 2_000);
    expect(callB.closed).toBe(false);
    expect(await within(300, b.run)).toBe('still running');

    b.env.cancel('WORKER_SHUTDOWN');
    expect(await within(2_000, b.run)).toBeInstanceOf(CancelledFailure);
    await until('the second call to be aborted', () => callB.closed, 2_000);
  });

  it('run the body as it is outside an activity', async () => {
    expect(await untilCancelled(client, async () => 'direct')).toBe('direct');
  });

  it('end before any call when the activity was already cancelled', async () => {
    const env = new MockActivityEnvironment();
    env.cancel('WORKER_SHUTDOWN');
    const first = calls.length;
    const activities = createControlActivities({ client, log: createLogger({ level: 'silent' }) });
    expect(await within(2_000, env.run(activities.isPullRequestMerged, pullRequest))).toBeInstanceOf(
      CancelledFailure,
    );
    expect(calls.length).toBe(first);
  });
});
