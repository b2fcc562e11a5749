// A quick before/after probe of the snapshot workflow's fast path (not the benchmark suite, which
// lives in bench/): register, lookup, invalidate → image gone, and the history a lookup costs,
// against a private Docker engine and a Temporal dev server it starts itself.
//   flock /tmp/snapkeeper-heavy.lock npx tsx scripts/measure-fast-path.ts   (MEASURE_N=30)
import type Dockerode from 'dockerode';
import { commitMarkerSnapshot } from './lib/commit-marker-snapshot.js';
import { createSnapshotService } from '../src/service/snapshot-service.js';
import { snapshotWorkflowId } from '../src/contract/names.js';
import { startLocalSystem } from './lib/local-system.js';

const N = Number(process.env.MEASURE_N ?? 30);
const LOOKUPS = Number(process.env.MEASURE_LOOKUPS ?? 100);
const HOST = 'measure';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const p90 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.9))] ?? NaN;
};

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = process.hrtime.bigint();
  const value = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, value];
}

/** Resolves when the engine reports the image deleted (its event stream, no polling). */
async function deletions(docker: Dockerode) {
  const waiting = new Map<string, () => void>();
  const stream = (await docker.getEvents({
    filters: { type: ['image'], event: ['delete'] },
  })) as NodeJS.ReadableStream;
  let buffer = '';
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const id = (JSON.parse(line) as { id?: string }).id;
      if (id) waiting.get(id)?.();
    }
  });
  return {
    gone: (imageId: string) => new Promise<void>((resolve) => waiting.set(imageId, resolve)),
    close: () => (stream as unknown as { destroy(): void }).destroy(),
  };
}

async function main(): Promise<void> {
  const system = await startLocalSystem({
    name: 'measure',
    hostId: HOST,
  });
  const { docker, base, client } = system;
  const service = createSnapshotService({ client, defaultTtlSeconds: 3600 });
  const events = await deletions(docker);
  const out: Record<string, number> = {};
  try {
    const warm = await commitMarkerSnapshot(docker, base, 'm', 'warm');
    await service.register({ projectId: 'm', workItemId: 'warm', image: warm.image, host: HOST });
    const warmGone = events.gone(warm.imageId);
    await service.invalidate('m', 'warm', 'warm-up');
    await warmGone;

    const register: number[] = [];
    const lookup: number[] = [];
    const query: number[] = [];
    const inspect: number[] = [];
    const gone: number[] = [];
    const rmi: number[] = [];
    for (let i = 0; i < N; i++) {
      const workItemId = `item-${i}`;
      const raw = await commitMarkerSnapshot(docker, base, 'm', `raw-${i}`);
      rmi.push((await timed(() => docker.getImage(raw.imageId).remove()))[0]);
      const img = await commitMarkerSnapshot(docker, base, 'm', workItemId);
      inspect.push((await timed(() => docker.getImage(img.image).inspect()))[0]);
      register.push(
        (
          await timed(() => service.register({ projectId: 'm', workItemId, image: img.image, host: HOST }))
        )[0],
      );
      query.push((await timed(() => service.view('m', workItemId)))[0]);
      lookup.push((await timed(() => service.lookup('m', workItemId)))[0]);
      const done = events.gone(img.imageId);
      gone.push(
        (
          await timed(async () => {
            await service.invalidate('m', workItemId, 'measure');
            await done;
          })
        )[0],
      );
    }
    Object.assign(out, {
      registerMedian: median(register),
      registerP90: p90(register),
      inspectMedian: median(inspect),
      lookupMedian: median(lookup),
      lookupP90: p90(lookup),
      queryMedian: median(query),
      invalidateToGoneMedian: median(gone),
      invalidateToGoneP90: p90(gone),
      rmiMedian: median(rmi),
    });

    // History cost of lookups: one snapshot, LOOKUPS lookups, events before and after.
    const img = await commitMarkerSnapshot(docker, base, 'm', 'reads');
    await service.register({ projectId: 'm', workItemId: 'reads', image: img.image, host: HOST });
    const handle = client.workflow.getHandle(snapshotWorkflowId('m', 'reads'));
    const before = (await handle.describe()).historyLength;
    for (let i = 0; i < LOOKUPS; i++) await service.lookup('m', 'reads');
    const after = (await handle.describe()).historyLength;
    out.historyEventsPerLookup = (after - before) / LOOKUPS;
    out.historyBefore = before;
    out.historyAfter = after;
  } finally {
    events.close();
    await system.stop();
  }
  console.log(
    JSON.stringify(
      { n: N, lookups: LOOKUPS, ...out },
      (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v),
      2,
    ),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
