// Records event histories of snapkeeper's workflows as the checkout it runs in writes them, for
// test/unit/workflow-replay.test.ts: newer workflow code must replay them (running workflows
// survive an upgrade). Run it in a checkout of the older code (a git worktree of the release, with
// this file copied in; it uses only what the releases since 27f0425 all have, and names the
// messages by their wire names so that it also sends messages the older code does not know):
//   flock /tmp/snapkeeper-heavy.lock npx tsx scripts/record-histories.ts OUT_DIR [--basic]
// OUT_DIR gets one .pb file per recorded run and manifest.json, which names each file's workflow
// id (the snapshot workflows check their own id, and a file name cannot spell every id).
// `--basic` records only the five scenarios of the first recording (touches, replacement, blocked
// removal, TTL, budget). `--own-keys` records only the budget of a host where a project named
// `constructor` (a property of every JavaScript object) is over its limit: code from before the
// budget-own-keys patch (db14c84 and older) read that project's records through the object
// prototype and never limited it, so its budget history is the patch's old branch.
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { commitMarkerSnapshot } from './lib/commit-marker-snapshot.js';
import { createSnapshotService } from '../src/service/snapshot-service.js';
import { mergedPullRequestWorkflowId, snapshotWorkflowId } from '../src/contract/names.js';
import { startLocalSystem } from './lib/local-system.js';

const HOST = 'replay';
const out = process.argv[2] ?? 'test/fixtures/histories';
const basic = process.argv.includes('--basic');
const ownKeys = process.argv.includes('--own-keys');

interface Recorded {
  file: string;
  workflowId: string;
  runId?: string;
  /** What the run went through, for the reader of the manifest. */
  scenario: string;
}

interface RetiringView {
  retiring: Array<{ state: string }>;
  current: { imageId: string } | null;
}

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A refusal is part of the scenario: it must come, and as a failure. */
async function refused(what: string, call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error(`${what} was not refused`);
}

async function main(): Promise<void> {
  // The per-project policy file (SNAPKEEPER_CONFIG, read by every worker): one snapshot per host
  // for the project `constructor`, for --own-keys.
  const policy = join(tmpdir(), `record-histories-policy-${process.pid}.json`);
  if (ownKeys) await writeFile(policy, JSON.stringify({ projects: { constructor: { maxSnapshots: 1 } } }));
  const system = await startLocalSystem({
    name: 'record',
    hostId: HOST,
    env: { SNAPKEEPER_MAX_SNAPSHOTS: '50', ...(ownKeys ? { SNAPKEEPER_CONFIG: policy } : {}) },
  });
  const { docker, base, client } = system;
  const workflowOptions = { removalBackoffInitialSeconds: 1, removalBackoffMaxSeconds: 1 };
  const service = createSnapshotService({
    client,
    defaultTtlSeconds: 3600,
    workflowOptions,
    pullRequestWorkflowOptions: { lookDelaysSeconds: [1] },
  });
  const gone = (imageId: string) => async () => {
    try {
      await docker.getImage(imageId).inspect();
      return false;
    } catch {
      return true;
    }
  };
  const view = (projectId: string, workItemId: string) =>
    client.workflow.getHandle(snapshotWorkflowId(projectId, workItemId)).query<RetiringView>('state');
  const drained = (projectId: string, workItemId: string) => async () =>
    (await view(projectId, workItemId)).retiring.length === 0;
  const finished = (projectId: string, workItemId: string) =>
    client.workflow.getHandle(snapshotWorkflowId(projectId, workItemId)).result();
  const snapshot = (workItemId: string, scenario: string) =>
    runs.push({ workflowId: snapshotWorkflowId('rec', workItemId), scenario });
  try {
    if (ownKeys) {
      await recordOwnKeys(client, docker, base, service);
      await writeRuns(client, out);
      return;
    }
    // Lookups (touches), a replacement, then an invalidation: completes.
    const a1 = await commitMarkerSnapshot(docker, base, 'rec', 'touched');
    await service.register({
      projectId: 'rec',
      workItemId: 'touched',
      image: a1.image,
      host: HOST,
      slidingTtl: true,
    });
    for (let i = 0; i < 3; i++) await service.lookup('rec', 'touched');
    const a2 = await commitMarkerSnapshot(docker, base, 'rec', 'touched');
    await service.register({ projectId: 'rec', workItemId: 'touched', image: a2.image, host: HOST });
    await service.invalidate('rec', 'touched', 'recorded');
    await finished('rec', 'touched');
    snapshot('touched', 'lookups, a replacement, an invalidation');

    // A removal blocked by a container, then let go: completes.
    const b = await commitMarkerSnapshot(docker, base, 'rec', 'blocked');
    await service.register({ projectId: 'rec', workItemId: 'blocked', image: b.image, host: HOST });
    const holder = await docker.createContainer({
      Image: b.image,
      Cmd: ['sleep', '3600'],
      HostConfig: { NetworkMode: 'none' },
    });
    await holder.start();
    await service.invalidate('rec', 'blocked', 'recorded');
    await until(
      'removal-blocked',
      async () => (await view('rec', 'blocked')).retiring[0]?.state === 'removal-blocked',
    );
    await holder.remove({ force: true });
    await finished('rec', 'blocked');
    snapshot('blocked', 'a removal blocked by a container, then let go');

    // A TTL that expires: completes.
    const c = await commitMarkerSnapshot(docker, base, 'rec', 'expired');
    await service.register({
      projectId: 'rec',
      workItemId: 'expired',
      image: c.image,
      host: HOST,
      ttlSeconds: 2,
    });
    await until('expired', gone(c.imageId));
    await finished('rec', 'expired');
    snapshot('expired', 'a TTL that expires');

    // Still open, with touches: a running workflow at the moment of an upgrade.
    const d = await commitMarkerSnapshot(docker, base, 'rec', 'open');
    await service.register({ projectId: 'rec', workItemId: 'open', image: d.image, host: HOST });
    for (let i = 0; i < 3; i++) await service.lookup('rec', 'open');
    snapshot('open', 'still open, with lookups');

    if (!basic)
      await recordMessages(client, docker, base, service, { view, drained, finished, gone, snapshot });

    runs.push({ workflowId: `budget:${HOST}`, scenario: "the host's budget, still open" });
    await writeRuns(client, out);
  } finally {
    await system.stop();
  }
}

/** One .pb per recorded run, and the manifest naming each file's workflow id. */
async function writeRuns(client: Client, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const manifest: Recorded[] = [];
  for (const run of runs) {
    const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    const name = `${run.workflowId}${run.runId ? `-${run.runId.slice(0, 8)}` : ''}`;
    const file = `${name.replace(/[^A-Za-z0-9-]+/g, '_')}.pb`;
    await writeFile(join(dir, file), proto.temporal.api.history.v1.History.encode(history).finish());
    manifest.push({ file, ...run });
    console.log(`${join(dir, file)}: ${history.events?.length ?? 0} events (${run.scenario})`);
  }
  if (!basic) await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * Two snapshots of the project `constructor` on a host that allows it one, then the reconciler's
 * budget check: the budget must evict one, unless its code reads the project's records through the
 * object prototype (before budget-own-keys), which never limited it.
 */
async function recordOwnKeys(client: Client, docker: Docker, base: string, service: Service): Promise<void> {
  for (const workItemId of ['first', 'second']) {
    const image = await commitMarkerSnapshot(docker, base, 'constructor', workItemId);
    await service.register({ projectId: 'constructor', workItemId, image: image.image, host: HOST });
  }
  await client.workflow.execute('reconcileWorkflow', {
    workflowId: 'rec-own-keys-reconcile',
    taskQueue: 'snapkeeper',
    args: [{ hosts: [HOST], orphanGraceSeconds: 3600, dryRun: false }],
  });
  runs.push({
    workflowId: `budget:${HOST}`,
    scenario:
      'the budget of a host where the project `constructor` has two snapshots and may keep one, checked',
  });
}

type Service = ReturnType<typeof createSnapshotService>;
type Docker = Awaited<ReturnType<typeof startLocalSystem>>['docker'];

interface Helpers {
  view: (projectId: string, workItemId: string) => Promise<RetiringView>;
  drained: (projectId: string, workItemId: string) => () => Promise<boolean>;
  finished: (projectId: string, workItemId: string) => Promise<unknown>;
  gone: (imageId: string) => () => Promise<boolean>;
  snapshot: (workItemId: string, scenario: string) => void;
}

/**
 * Every message the snapshot workflow takes, accepted and refused, including `used` (a lookup's
 * use by signal), which code before 14b9177 has no handler for; each scenario goes on with more
 * events after the message, so that a replay has to match what the message did.
 */
async function recordMessages(
  client: Client,
  docker: Docker,
  base: string,
  service: Service,
  { view, drained, finished, gone, snapshot }: Helpers,
): Promise<void> {
  const signal = (workItemId: string, name: string, arg: unknown) =>
    client.workflow.getHandle(snapshotWorkflowId('rec', workItemId)).signal(name, arg);

  // `used` signals (the right image, another image), then a replacement, another use, an invalidation.
  const u1 = await commitMarkerSnapshot(docker, base, 'rec', 'used');
  await service.register({
    projectId: 'rec',
    workItemId: 'used',
    image: u1.image,
    host: HOST,
    slidingTtl: true,
  });
  await signal('used', 'used', { imageId: u1.imageId, recordEveryMs: 0 });
  await signal('used', 'used', { imageId: 'sha256:0000', recordEveryMs: 0 });
  await signal('used', 'used', { imageId: u1.imageId, recordEveryMs: 3_600_000 });
  await view('rec', 'used');
  const u2 = await commitMarkerSnapshot(docker, base, 'rec', 'used');
  await service.register({ projectId: 'rec', workItemId: 'used', image: u2.image, host: HOST });
  await until('replaced image gone', gone(u1.imageId));
  await signal('used', 'used', { imageId: u2.imageId, recordEveryMs: 0 });
  await view('rec', 'used');
  await service.invalidate('rec', 'used', 'recorded');
  await finished('rec', 'used');
  snapshot('used', 'used signals (accepted, another image, within the interval), replacement, invalidation');

  // Still open after a `used` signal and a lookup: the run an upgrade meets.
  const o = await commitMarkerSnapshot(docker, base, 'rec', 'usedopen');
  await service.register({ projectId: 'rec', workItemId: 'usedopen', image: o.image, host: HOST });
  await signal('usedopen', 'used', { imageId: o.imageId, recordEveryMs: 0 });
  await view('rec', 'usedopen');
  await service.lookup('rec', 'usedopen');
  snapshot('usedopen', 'a used signal, still open');

  // A registration linked to an already merged pull request, while the current image is linked
  // to another, open one; then the same image linked late to a merged one.
  const repo = 'rec/repo';
  await service.handOffPullRequestClosed({
    kind: 'merged',
    pullRequest: { repository: repo, number: 1 },
    deliveryId: 'rec-merge-1',
    branchTargets: [],
  });
  const prWorkflow = mergedPullRequestWorkflowId({ repository: repo, number: 1 });
  await client.workflow.getHandle(prWorkflow).result();
  const m1 = await commitMarkerSnapshot(docker, base, 'rec', 'refused');
  await service.register({
    projectId: 'rec',
    workItemId: 'refused',
    image: m1.image,
    host: HOST,
    pullRequest: { repository: repo, number: 2 },
  });
  const m2 = await commitMarkerSnapshot(docker, base, 'rec', 'refused');
  await refused('registration linked to a merged pull request', () =>
    service.register({
      projectId: 'rec',
      workItemId: 'refused',
      image: m2.image,
      host: HOST,
      pullRequest: { repository: repo, number: 1 },
    }),
  );
  await until('refused registration settled', drained('rec', 'refused'));
  const m3 = await commitMarkerSnapshot(docker, base, 'rec', 'refused');
  await service.register({ projectId: 'rec', workItemId: 'refused', image: m3.image, host: HOST });
  await refused('link to a merged pull request', () =>
    service.linkPullRequest('rec', 'refused', { repository: repo, number: 1 }),
  );
  await finished('rec', 'refused');
  snapshot('refused', 'a registration and a link refused because their pull request had merged');
  runs.push({ workflowId: prWorkflow, scenario: 'a merged pull request' });

  // Merges: another pull request's (ignored), the linked one's twice (the second a redelivery).
  const p = await commitMarkerSnapshot(docker, base, 'rec', 'merges');
  await service.register({
    projectId: 'rec',
    workItemId: 'merges',
    image: p.image,
    host: HOST,
    pullRequest: { repository: repo, number: 3 },
  });
  const at = new Date().toISOString();
  await signal('merges', 'merged', {
    pullRequest: { repository: repo, number: 4 },
    deliveryId: 'rec-merge-4',
    mergedAt: at,
    match: 'link',
  });
  await view('rec', 'merges');
  for (let i = 0; i < 2; i++) {
    await signal('merges', 'merged', {
      pullRequest: { repository: repo, number: 3 },
      deliveryId: 'rec-merge-3',
      mergedAt: at,
      match: 'link',
    });
  }
  await finished('rec', 'merges');
  snapshot('merges', "another pull request's merge, then the linked one's, redelivered");

  // Refusals and ignored messages, then an ending by the reconciler's vanished signal.
  const e = await commitMarkerSnapshot(docker, base, 'rec', 'ends');
  await service.register({ projectId: 'rec', workItemId: 'ends', image: e.image, host: HOST });
  await signal('ends', 'evict', { imageId: 'sha256:0000', reason: 'not this one' });
  await signal('ends', 'invalidate', { imageId: 'sha256:0000', reason: 'not this one' });
  await refused('invalidation of another image', () =>
    service.invalidateImage('rec', 'ends', { imageId: 'sha256:0000', reason: 'not this one' }),
  );
  await signal('ends', 'vanished', { imageId: e.imageId, message: 'recorded' });
  await finished('rec', 'ends');
  snapshot('ends', 'an eviction and invalidations of another image (ignored, refused), then vanished');

  // A rollback: the parent registered again by id after its child replaced it.
  const parent = await commitMarkerSnapshot(docker, base, 'rec', 'rollback');
  await service.register({ projectId: 'rec', workItemId: 'rollback', image: parent.image, host: HOST });
  const child = await commitMarkerSnapshot(docker, parent.image, 'rec', 'rollback');
  await service.register({ projectId: 'rec', workItemId: 'rollback', image: child.image, host: HOST });
  await until('parent retired', drained('rec', 'rollback'));
  await service.register({ projectId: 'rec', workItemId: 'rollback', image: parent.imageId, host: HOST });
  await service.invalidate('rec', 'rollback', 'recorded');
  await finished('rec', 'rollback');
  snapshot('rollback', 'a child replaces its parent, the parent is registered again by id');

  // Continue-as-new: both runs.
  const can = createSnapshotService({
    client,
    defaultTtlSeconds: 3600,
    workflowOptions: { continueAsNewAfterEvents: 40 },
  });
  const f = await commitMarkerSnapshot(docker, base, 'rec', 'continued');
  await can.register({ projectId: 'rec', workItemId: 'continued', image: f.image, host: HOST });
  const handle = client.workflow.getHandle(snapshotWorkflowId('rec', 'continued'));
  const first = (await handle.describe()).runId;
  for (let i = 0; (await handle.describe()).runId === first; i++) {
    if (i > 200) throw new Error('no continue-as-new');
    await signal('continued', 'used', { imageId: f.imageId, recordEveryMs: 0 });
  }
  await signal('continued', 'used', { imageId: f.imageId, recordEveryMs: 0 });
  await view('rec', 'continued');
  runs.push({
    workflowId: snapshotWorkflowId('rec', 'continued'),
    runId: first,
    scenario: 'used signals until continue-as-new (the first run)',
  });
  snapshot('continued', 'the run after continue-as-new, still open');

  // The reconciler: an orphan removed, the owned images spared.
  await commitMarkerSnapshot(docker, base, 'rec', 'orphan');
  await new Promise((r) => setTimeout(r, 2_500));
  const reconcileId = 'rec-reconcile';
  await client.workflow.execute('reconcileWorkflow', {
    workflowId: reconcileId,
    taskQueue: 'snapkeeper',
    args: [{ hosts: [HOST], orphanGraceSeconds: 2, dryRun: false }],
  });
  runs.push({ workflowId: reconcileId, scenario: 'a manual reconcile of one host' });
  runs.push({
    workflowId: `${reconcileId}/${HOST}`,
    scenario: "that reconcile's host run: one orphan removed",
  });
}

// The runs recorded, filled by main and recordMessages in order.
const runs: Array<Omit<Recorded, 'file'>> = [];

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
