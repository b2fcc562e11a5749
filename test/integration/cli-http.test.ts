// The CLI's HTTP fast path (TEMPORAL_HTTP_ADDRESS, src/cli/temporal-http*.ts) against the real dev
// server's HTTP API and a worker: `show` and `ls` print exactly what the client path prints for the
// same workflows, it answers without the gRPC frontend (so it really is the HTTP path answering),
// and anything it cannot answer goes back to the client path, said only at debug level.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotSummary } from '../../src/contract/snapshot-types.js';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import { makeSnapshotImage } from '../support/snapshot-images.js';
import { testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { CliResult } from './cli-helpers.js';
import { runCliJson, runCliProcess } from './cli-helpers.js';
import type { TestHost } from './reconcile-fixture.js';
import { startTestHost } from './reconcile-fixture.js';

const DEADLINE = { timeoutMs: 60_000 };
let host: TestHost;
let http: Record<string, string>;

beforeAll(async () => {
  const address = testEnv().temporalHttpAddress;
  if (!address)
    throw new Error('the integration dev server runs without --http-port (test/support/test-temporal.ts)');
  http = { TEMPORAL_HTTP_ADDRESS: address };
  host = await startTestHost({ name: 'cli-http' });
});

afterAll(async () => {
  await host?.stop();
});

/**
 * "in 23h 59m", "5s ago": the two runs happen moments apart, so a relative time may tick between
 * them, and with it a table column's width (runs of spaces become one).
 */
function steady(r: CliResult): CliResult {
  const relative = /(?:in )?\d+[dhms](?: \d+[dhms])?(?: ago)?(?![A-Za-z])/g;
  return {
    code: r.code,
    stdout: r.stdout.replace(relative, '<relative>').replace(/ +/g, ' '),
    stderr: r.stderr.replace(relative, '<relative>'),
  };
}

async function bothPaths(args: string[], extra: Record<string, string> = {}) {
  const viaClient = await runCliProcess(args, { env: extra });
  const viaHttp = await runCliProcess(args, { env: { ...extra, ...http } });
  return { viaClient, viaHttp };
}

describe('snapkeeper show and ls over the HTTP API', () => {
  it('ls prints the same table, JSON and truncation as the client path', async () => {
    const projectId = uniqueIds('cli-http-ls').projectId;
    for (const workItemId of ['a', 'b', 'c']) {
      const img = await makeSnapshotImage(host.docker, { projectId, workItemId });
      await host.service.register({ projectId, workItemId, image: img.image, host: host.hostId });
    }
    await waitFor(
      async () =>
        (await runCliJson<SnapshotSummary[]>(['ls', '--project', projectId])).length === 3 ? true : null,
      { ...DEADLINE, message: 'ls did not show the three snapshots' },
    );
    for (const args of [
      ['ls', '--project', projectId, '--json'],
      ['ls', '--project', projectId],
      ['ls', '--project', projectId, '--host', host.hostId, '--state', 'active'],
      ['ls', '--project', projectId, '--limit', '2'],
      ['ls', '--project', projectId, '--state', 'removed'],
    ]) {
      const { viaClient, viaHttp } = await bothPaths(args);
      expect(viaClient.code, args.join(' ')).toBe(0);
      expect(steady(viaHttp), args.join(' ')).toEqual(steady(viaClient));
    }
    const json = JSON.parse(
      (await runCliProcess(['ls', '--project', projectId, '--json'], { env: http })).stdout,
    ) as SnapshotSummary[];
    expect(json.map((s) => s.workItemId).sort()).toEqual(['a', 'b', 'c']);
  });

  it('show prints the same for an open workflow, a closed one and a missing one', async () => {
    const ids = uniqueIds('cli-http-show');
    const img = await makeSnapshotImage(host.docker, ids);
    await host.service.register({ ...ids, image: img.image, host: host.hostId });
    for (const args of [
      ['show', ids.projectId, ids.workItemId],
      ['show', ids.projectId, ids.workItemId, '--json'],
    ]) {
      const { viaClient, viaHttp } = await bothPaths(args);
      expect(viaClient.code).toBe(0);
      expect(viaClient.stdout).toContain(img.image);
      expect(steady(viaHttp), args.join(' ')).toEqual(steady(viaClient));
    }

    await host.service.invalidate(ids.projectId, ids.workItemId, 'test done');
    await waitFor(
      async () => {
        const d = await host.client.workflow
          .getHandle(snapshotWorkflowId(ids.projectId, ids.workItemId))
          .describe();
        return d.status.name === 'COMPLETED' ? true : null;
      },
      { ...DEADLINE, message: 'the snapshot workflow did not complete' },
    );
    for (const args of [
      ['show', ids.projectId, ids.workItemId],
      ['show', ids.projectId, ids.workItemId, '--json'],
    ]) {
      const { viaClient, viaHttp } = await bothPaths(args);
      expect(viaClient.stdout).toContain('completed');
      expect(steady(viaHttp), args.join(' ')).toEqual(steady(viaClient));
    }

    const { viaClient, viaHttp } = await bothPaths(['show', ids.projectId, 'nobody-here']);
    expect(viaClient.code).toBe(3);
    expect(viaHttp).toEqual(viaClient);
  });

  it('answers over HTTP alone: with the gRPC frontend unreachable, only the client path fails', async () => {
    const ids = uniqueIds('cli-http-only');
    const img = await makeSnapshotImage(host.docker, ids);
    await host.service.register({ ...ids, image: img.image, host: host.hostId });
    await waitFor(
      async () =>
        (await runCliJson<SnapshotSummary[]>(['ls', '--project', ids.projectId])).length === 1 ? true : null,
      { ...DEADLINE, message: 'ls did not show the snapshot' },
    );
    const expected = {
      show: steady(await runCliProcess(['show', ids.projectId, ids.workItemId])),
      ls: steady(await runCliProcess(['ls', '--project', ids.projectId])),
    };
    // Debug level: a fall-back to the client path would say why on stderr (and fail the comparison).
    const noGrpc = { TEMPORAL_ADDRESS: '127.0.0.1:1', SNAPKEEPER_LOG_LEVEL: 'debug' };
    const show = await runCliProcess(['show', ids.projectId, ids.workItemId], {
      env: { ...noGrpc, ...http },
    });
    const ls = await runCliProcess(['ls', '--project', ids.projectId], { env: { ...noGrpc, ...http } });
    expect(steady(show)).toEqual(expected.show);
    expect(steady(ls)).toEqual(expected.ls);
    // The same without the HTTP API cannot answer: the check above can fail.
    expect(
      (await runCliProcess(['ls', '--project', ids.projectId], { env: noGrpc, timeoutMs: 60_000 })).code,
    ).toBe(4);
  });

  it('goes back to the client path when the HTTP API does not answer, said only at debug level', async () => {
    const ids = uniqueIds('cli-http-fallback');
    const img = await makeSnapshotImage(host.docker, ids);
    await host.service.register({ ...ids, image: img.image, host: host.hostId });
    const expected = steady(await runCliProcess(['show', ids.projectId, ids.workItemId]));
    const dead = { TEMPORAL_HTTP_ADDRESS: '127.0.0.1:1' };
    expect(steady(await runCliProcess(['show', ids.projectId, ids.workItemId], { env: dead }))).toEqual(
      expected,
    );
    const debug = await runCliProcess(['show', ids.projectId, ids.workItemId], {
      env: { ...dead, SNAPKEEPER_LOG_LEVEL: 'debug' },
    });
    expect(steady({ ...debug, stderr: '' })).toEqual(expected);
    expect(debug.stderr.match(/HTTP fast path not taken/g)).toHaveLength(1);
    const bad = await runCliProcess(['ls'], { env: { TEMPORAL_HTTP_ADDRESS: 'not an address' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('TEMPORAL_HTTP_ADDRESS');
  });
});
