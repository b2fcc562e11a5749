// Records event histories of snapshot and budget workflows as the checkout it runs in writes them,
// for test/unit/workflow-replay.test.ts: a newer workflow must replay them (running workflows
// survive an upgrade). Run it in a checkout of the older code:
//   flock /tmp/snapkeeper-heavy.lock npx tsx scripts/record-histories.ts OUT_DIR
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { commitMarkerSnapshot } from './lib/commit-marker-snapshot.js';
import { createSnapshotService } from '../src/service/snapshot-service.js';
import { snapshotWorkflowId } from '../src/contract/names.js';
import { stateQuery } from '../src/contract/messages.js';
import { startLocalSystem } from './lib/local-system.js';

const HOST = 'replay';
const out = process.argv[2] ?? 'test/fixtures/histories';

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const system = await startLocalSystem({
    name: 'record',
    hostId: HOST,
    env: { SNAPKEEPER_MAX_SNAPSHOTS: '50' },
  });
  const { docker, base, client } = system;
  const service = createSnapshotService({
    client,
    defaultTtlSeconds: 3600,
    workflowOptions: { removalBackoffInitialSeconds: 1, removalBackoffMaxSeconds: 1 },
  });
  const gone = (imageId: string) => async () => {
    try {
      await docker.getImage(imageId).inspect();
      return false;
    } catch {
      return true;
    }
  };
  const ids: string[] = [];
  try {
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
    await client.workflow.getHandle(snapshotWorkflowId('rec', 'touched')).result();
    ids.push(snapshotWorkflowId('rec', 'touched'));

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
    const handle = client.workflow.getHandle(snapshotWorkflowId('rec', 'blocked'));
    await until(
      'removal-blocked',
      async () => (await handle.query(stateQuery)).retiring[0]?.state === 'removal-blocked',
    );
    await holder.remove({ force: true });
    await handle.result();
    ids.push(snapshotWorkflowId('rec', 'blocked'));

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
    await client.workflow.getHandle(snapshotWorkflowId('rec', 'expired')).result();
    ids.push(snapshotWorkflowId('rec', 'expired'));

    // Still open, with touches: a running workflow at the moment of an upgrade.
    const d = await commitMarkerSnapshot(docker, base, 'rec', 'open');
    await service.register({ projectId: 'rec', workItemId: 'open', image: d.image, host: HOST });
    for (let i = 0; i < 3; i++) await service.lookup('rec', 'open');
    ids.push(snapshotWorkflowId('rec', 'open'));
    ids.push(`budget:${HOST}`);

    await mkdir(out, { recursive: true });
    for (const id of ids) {
      const history = await client.workflow.getHandle(id).fetchHistory();
      const file = join(out, `${id.replace(/[^A-Za-z0-9-]+/g, '_')}.pb`);
      await writeFile(file, proto.temporal.api.history.v1.History.encode(history).finish());
      console.log(`${file}: ${history.events?.length ?? 0} events`);
    }
  } finally {
    await system.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
