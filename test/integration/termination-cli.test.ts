// Operators end snapshot workflows with the real CLIs, exactly as docs/operations.md tells them to:
// cancel removes the image at once; terminate runs no workflow code, so the image is left to the
// reconciler, which removes it once it is older than the grace period.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetWorkflowId, snapshotWorkflowId } from '../../src/contract/names.js';
import { stateQuery } from '../../src/contract/messages.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { testEnv, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { imageAgeSeconds, startTestHost } from './reconcile-fixture.js';

const exec = promisify(execFile);
const DEADLINE = { timeoutMs: 60_000 };

let host: TestHost;
const tctl = (): string | null => testEnv().tctlPath;

beforeAll(async () => {
  // A count limit, as on a host whose budget an operator looks at: where no limit applies, the
  // budget does not count snapshots one by one (issue 19) and its query would not show the image.
  host = await startTestHost({ name: 'terminate', env: { SNAPKEEPER_MAX_SNAPSHOTS: '1000' } });
});

afterAll(async () => {
  await host?.stop();
});

/** The temporal CLI, with the flags of the runbook. */
async function temporal(...args: string[]): Promise<string> {
  const env = testEnv();
  const { stdout } = await exec(
    env.temporalCliPath,
    [...args, '--address', env.temporalAddress, '--namespace', 'default'],
    {
      timeout: 60_000,
    },
  );
  return stdout;
}

/** tctl, with the flags of the runbook (global flags before the command). */
async function runTctl(...args: string[]): Promise<string> {
  const env = testEnv();
  const { stdout } = await exec(
    tctl() as string,
    ['--address', env.temporalAddress, '--namespace', 'default', ...args],
    {
      timeout: 60_000,
    },
  );
  return stdout;
}

async function registered(prefix: string) {
  const ids = uniqueIds(prefix);
  const img = await makeSnapshotImage(host.docker, { ...ids, labels: 'managed' });
  await host.service.register({ ...ids, image: img.image, host: host.hostId });
  const workflowId = snapshotWorkflowId(ids.projectId, ids.workItemId);
  return { ids, img, workflowId, handle: host.client.workflow.getHandle(workflowId) };
}

async function waitStatus(workflowId: string, status: string) {
  await waitFor(
    async () => (await host.client.workflow.getHandle(workflowId).describe()).status.name === status,
    {
      ...DEADLINE,
      message: `${workflowId} did not reach ${status}`,
    },
  );
}

async function leftToTheReconciler(img: { imageId: string }, workflowId: string) {
  await waitStatus(workflowId, 'TERMINATED');
  // No workflow code ran: the image is still there, and a reconcile within the grace keeps it.
  expect(await imageExists(host.docker, img.imageId)).toBe(true);
  const early = await host.reconcile({ orphanGraceSeconds: 3600, dryRun: false });
  expect(early.orphansKeptYoung.map((i) => i.imageId)).toContain(img.imageId);
  expect(await imageExists(host.docker, img.imageId)).toBe(true);
  // Past the grace, the next run removes it.
  await waitFor(async () => (await imageAgeSeconds(host.docker, img.imageId)) > 1, {
    timeoutMs: 15_000,
    message: 'image did not age',
  });
  const report = await host.reconcile({ orphanGraceSeconds: 1, dryRun: false });
  expect(report.orphansRemoved.map((i) => i.imageId)).toContain(img.imageId);
  expect(await imageExists(host.docker, img.imageId)).toBe(false);
}

describe('operators with the temporal CLI', () => {
  it('find a snapshot workflow id with a visibility query on the search attributes', async () => {
    const { ids, workflowId } = await registered('find');
    const query = `SnapshotProjectId='${ids.projectId}' AND SnapshotWorkItemId='${ids.workItemId}'`;
    const found = await waitFor(
      async () => {
        const out = await temporal('workflow', 'list', '--query', query, '--output', 'json');
        return out.includes(workflowId) ? out : null;
      },
      { ...DEADLINE, message: 'temporal workflow list did not find the workflow' },
    );
    expect(found).toContain(workflowId);
    await host.service.invalidate(ids.projectId, ids.workItemId, 'test done');
  });

  it('temporal workflow query --type state shows the current image, and --type budget the host budget', async () => {
    const { ids, img, workflowId } = await registered('query');
    const state = await temporal('workflow', 'query', '--workflow-id', workflowId, '--type', 'state');
    expect(state).toContain(img.imageId);
    const budgetId = budgetWorkflowId(host.hostId);
    await waitFor(
      async () =>
        (await temporal('workflow', 'query', '--workflow-id', budgetId, '--type', 'budget')).includes(
          img.imageId,
        ),
      { ...DEADLINE, message: `temporal workflow query did not show ${img.imageId} in ${budgetId}` },
    );
    await host.service.invalidate(ids.projectId, ids.workItemId, 'test done');
  });

  it('temporal workflow cancel removes the image at once', async () => {
    const { img, workflowId, handle } = await registered('cancel');
    await temporal('workflow', 'cancel', '--workflow-id', workflowId);
    await waitFor(async () => !(await imageExists(host.docker, img.imageId)), {
      ...DEADLINE,
      message: 'cancel did not remove the image',
    });
    await waitStatus(workflowId, 'CANCELLED');
    expect((await handle.query(stateQuery)).last).toMatchObject({
      imageId: img.imageId,
      state: 'removed',
      endReason: 'cancelled',
    });
  });

  it('temporal workflow terminate leaves the image to the reconciler, which removes it after the grace', async () => {
    const { img, workflowId } = await registered('term');
    await temporal('workflow', 'terminate', '--workflow-id', workflowId, '--reason', 'operator test');
    await leftToTheReconciler(img, workflowId);
  });
});

// Every tctl command of docs/operations.md, with tctl 1.18.4 (the admin-tools image's) against the
// run's server. Skipped only where tctl could not be built at all (no Go, no source tarball); CI
// sets SNAPKEEPER_REQUIRE_TCTL=1, and the harness then fails instead of providing null.
describe.skipIf(!testEnv().tctlPath)('operators with tctl', () => {
  it('tctl workflow list --query finds the workflow id', async () => {
    const { ids, workflowId } = await registered('tfind');
    const query = `SnapshotProjectId='${ids.projectId}' AND SnapshotWorkItemId='${ids.workItemId}'`;
    await waitFor(async () => (await runTctl('workflow', 'list', '--query', query)).includes(workflowId), {
      ...DEADLINE,
      message: 'tctl workflow list did not find the workflow',
    });
    await host.service.invalidate(ids.projectId, ids.workItemId, 'test done');
  });

  it('tctl workflow query --query_type state shows the current image', async () => {
    const { ids, img, workflowId } = await registered('tquery');
    const out = await runTctl('workflow', 'query', '--workflow_id', workflowId, '--query_type', 'state');
    expect(out).toContain(img.imageId);
    expect(out).toContain('"state":"active"');
    await host.service.invalidate(ids.projectId, ids.workItemId, 'test done');
  });

  it("tctl workflow query --query_type budget shows the host's budget", async () => {
    const { ids, img } = await registered('tbudget');
    const budgetId = budgetWorkflowId(host.hostId);
    const out = await waitFor(
      async () => {
        const text = await runTctl('workflow', 'query', '--workflow_id', budgetId, '--query_type', 'budget');
        return text.includes(img.imageId) ? text : null;
      },
      { ...DEADLINE, message: `tctl did not show ${img.imageId} in ${budgetId}` },
    );
    expect(out).toContain(img.imageId);
    await host.service.invalidate(ids.projectId, ids.workItemId, 'test done');
  });

  it('tctl workflow cancel removes the image at once', async () => {
    const { img, workflowId } = await registered('tcancel');
    await runTctl('workflow', 'cancel', '--workflow_id', workflowId);
    await waitFor(async () => !(await imageExists(host.docker, img.imageId)), {
      ...DEADLINE,
      message: 'tctl cancel did not remove the image',
    });
    await waitStatus(workflowId, 'CANCELLED');
  });

  it('tctl workflow terminate leaves the image to the reconciler, which removes it after the grace', async () => {
    const { img, workflowId } = await registered('tterm');
    await runTctl('workflow', 'terminate', '--workflow_id', workflowId, '--reason', 'operator test');
    await leftToTheReconciler(img, workflowId);
  });
});
