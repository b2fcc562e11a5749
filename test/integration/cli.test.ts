// The operator CLI as a child process against the real dev server and a private engine of this
// file's own: what it prints, what it changes, and the exit codes scripts branch on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotState, SnapshotSummary } from '../../src/contract/snapshot-types.js';
import { ensureReconcileSchedule } from '../../src/worker/ensure-reconcile-schedule.js';
import type { Check } from '../../src/cli/doctor-checks.js';
import type { ReconcileResult } from '../../src/workflows/reconcile/workflow.js';
import { reconcileScheduleId } from '../../src/contract/names.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { runCliJson, runCliProcess } from './cli-helpers.js';
import type { TestHost } from './reconcile-fixture.js';
import { imageAgeSeconds, startTestHost } from './reconcile-fixture.js';

const DEADLINE = { timeoutMs: 60_000 };
let host: TestHost;

beforeAll(async () => {
  host = await startTestHost({ name: 'cli' });
  // A Docker worker process makes its host's schedule at start-up; the in-process test host does not.
  await ensureReconcileSchedule(host.client, {
    hostId: host.hostId,
    intervalMs: 3_600_000,
    orphanGraceSeconds: 3600,
  });
});

afterAll(async () => {
  await host?.client.schedule
    .getHandle(reconcileScheduleId(host.hostId))
    .delete()
    .catch(() => undefined);
  await host?.stop();
});

async function registered(prefix: string) {
  const ids = uniqueIds(prefix);
  const img = await makeSnapshotImage(host.docker, ids);
  await host.service.register({ ...ids, image: img.image, host: host.hostId });
  return { ids, img };
}

describe('snapkeeper ls and show', () => {
  it('lists a registered snapshot as a table and as JSON, filtered by project, state and host', async () => {
    const { ids, img } = await registered('cli-ls');
    const items = await waitFor(
      async () => {
        const listed = await runCliJson<SnapshotSummary[]>(['ls', '--project', ids.projectId]);
        return listed.length === 1 ? listed : null;
      },
      { ...DEADLINE, message: 'ls --json did not show the snapshot' },
    );
    expect(items[0]).toMatchObject({
      projectId: ids.projectId,
      workItemId: ids.workItemId,
      image: img.image,
      host: host.hostId,
      state: 'active',
    });
    const table = await runCliProcess([
      'ls',
      '--project',
      ids.projectId,
      '--state',
      'active',
      '--host',
      host.hostId,
    ]);
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^PROJECT\s+WORK ITEM\s+STATE\s+HOST\s+IMAGE\s+SIZE\s+EXPIRES/);
    expect(row).toContain(ids.workItemId);
    expect(row).toContain(img.image);
    expect(row).toMatch(/active/);
    // No progress display when stderr is not a terminal.
    expect(table.stderr).toBe('');

    const none = await runCliProcess(['ls', '--project', ids.projectId, '--state', 'removal-blocked']);
    expect(none).toMatchObject({ code: 0, stdout: 'no snapshots\n' });
    await host.service.invalidate(ids.projectId, ids.workItemId, 'test done');
  });

  it('shows the current image of a work item, and exits 3 for an unknown one', async () => {
    const { ids, img } = await registered('cli-show');
    const shown = await runCliProcess(['show', ids.projectId, ids.workItemId]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('(running)');
    expect(shown.stdout).toMatch(/current:\n\s+state:\s+active/);
    expect(shown.stdout).toContain(img.imageId);
    const json = await runCliJson<{ current: SnapshotState; workflowStatus: string }>([
      'show',
      ids.projectId,
      ids.workItemId,
    ]);
    expect(json.workflowStatus).toBe('running');
    expect(json.current).toMatchObject({ imageId: img.imageId, host: host.hostId, state: 'active' });

    const missing = await runCliProcess(['show', ids.projectId, 'no-such-item']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no snapshot workflow');
    await host.service.invalidate(ids.projectId, ids.workItemId, 'test done');
  });
});

describe('snapkeeper invalidate', () => {
  it('ends the snapshot and, with --wait, returns once the image left the engine', async () => {
    const { ids, img } = await registered('cli-inv');
    const result = await runCliProcess([
      'invalidate',
      ids.projectId,
      ids.workItemId,
      '--reason',
      'broken by the CLI test',
      '--wait',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`invalidating ${ids.projectId}/${ids.workItemId}: ${img.image}`);
    expect(result.stdout).toContain(`removed ${img.image} from host ${host.hostId}`);
    expect(await imageExists(host.docker, img.imageId)).toBe(false);
    const view = await host.service.view(ids.projectId, ids.workItemId);
    expect(view?.last).toMatchObject({
      state: 'removed',
      endReason: 'invalidated',
      message: 'broken by the CLI test',
    });

    const again = await runCliProcess(['invalidate', ids.projectId, ids.workItemId]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('no active snapshot');
  });
});

describe('snapkeeper reconcile', () => {
  it('reports in a dry run, then removes an orphan past the grace; the canary and base image stay', async () => {
    const orphan = await makeSnapshotImage(host.docker, uniqueIds('cli-orphan'));
    await waitFor(async () => (await imageAgeSeconds(host.docker, orphan.imageId)) > 2, {
      timeoutMs: 15_000,
      message: 'orphan did not age',
    });
    const dry = await runCliJson<ReconcileResult & { workflowId: string }>([
      'reconcile',
      '--dry-run',
      '--host',
      host.hostId,
      '--grace',
      '1s',
    ]);
    expect(dry.workflowId).toMatch(/^snapkeeper-reconcile-manual-/);
    expect(dry.reports).toHaveLength(1);
    expect(dry.reports[0]).toMatchObject({ host: host.hostId, dryRun: true, error: null });
    expect(dry.reports[0]?.orphansRemoved.map((i) => i.imageId)).toContain(orphan.imageId);
    expect(await imageExists(host.docker, orphan.imageId)).toBe(true);

    // Below the floor (30 s): refused, nothing removed; the floor lowered, as tests do, it runs.
    const floor = await runCliProcess(['reconcile', '--host', host.hostId, '--grace', '1s']);
    expect(floor.code).toBe(2);
    expect(floor.stderr).toContain('--grace: 1s is below the floor of 30s');
    expect(await imageExists(host.docker, orphan.imageId)).toBe(true);
    const real = await runCliProcess(['reconcile', '--host', host.hostId, '--grace', '1s'], {
      env: { SNAPKEEPER_MIN_ORPHAN_GRACE: '1s' },
    });
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/^HOST\s+MANAGED\s+OWNED\s+REMOVED/);
    expect(real.stdout).toContain(host.hostId);
    expect(await imageExists(host.docker, orphan.imageId)).toBe(false);
    expect(await imageExists(host.docker, host.canaryImageId)).toBe(true);
    expect(await imageExists(host.docker, host.baseImageId)).toBe(true);
  });

  it('refuses bad arguments with exit code 2 and does nothing', async () => {
    const bad = await runCliProcess(['reconcile', '--host', 'not a host']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not a host id');
    const grace = await runCliProcess(['reconcile', '--grace', 'soon']);
    expect(grace.code).toBe(2);
    expect(grace.stderr).toContain('--grace');
    const state = await runCliProcess(['ls', '--state', 'sleeping']);
    expect(state.code).toBe(2);
  });
});

describe('snapkeeper doctor', () => {
  it('passes for a host whose worker and engine answer', async () => {
    const result = await runCliJson<{ ok: boolean; checks: Check[] }>(['doctor', '--host', host.hostId]);
    expect(result.ok).toBe(true);
    const byName = new Map(result.checks.map((c) => [c.name, c]));
    for (const name of [
      'configuration',
      'temporal',
      'namespace',
      'search attributes',
      'workflow worker',
      `schedule ${reconcileScheduleId(host.hostId)}`,
      `docker worker ${host.hostId}`,
      `engine ${host.hostId}`,
    ])
      expect(byName.get(name)?.status, name).toBe('ok');
    expect(byName.get(`engine ${host.hostId}`)?.detail).toMatch(/answers: \d+ managed image/);
  });

  it('says what to fix for a host without a Docker worker or schedule, and exits 1', async () => {
    const ghost = `cli-ghost-${Date.now().toString(36)}`;
    const result = await runCliProcess(['doctor', '--host', ghost]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(`FAIL\\s+docker worker ${ghost}\\s+no worker polls snapkeeper-docker-${ghost}`),
    );
    expect(result.stdout).toContain(`start a worker on ${ghost} with SNAPKEEPER_HOST_ID=${ghost}`);
    expect(result.stdout).toMatch(/1 problem|2 problem/);
  });

  it('reports bad configuration and an unreachable Temporal with their exit codes', async () => {
    const config = await runCliProcess(['doctor', '--host', host.hostId, '--json'], {
      env: { SNAPKEEPER_DEFAULT_TTL: 'forever' },
    });
    expect(config.code).toBe(1);
    const checks = (JSON.parse(config.stdout) as { checks: Check[] }).checks;
    expect(checks.find((c) => c.name === 'configuration')).toMatchObject({ status: 'fail' });
    expect(checks.find((c) => c.name === 'configuration')?.detail).toContain('SNAPKEEPER_DEFAULT_TTL');
    // Other commands refuse bad configuration outright.
    expect((await runCliProcess(['ls'], { env: { SNAPKEEPER_DEFAULT_TTL: 'forever' } })).code).toBe(2);

    const down = await runCliProcess(['doctor', '--address', '127.0.0.1:1']);
    expect(down.code).toBe(4);
    expect(down.stdout).toMatch(/FAIL\s+temporal/);
    expect((await runCliProcess(['ls', '--address', '127.0.0.1:1'])).code).toBe(4);
  });
});
