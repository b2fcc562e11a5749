// B2: many snapshots whose TTLs run out in the same second → each image's `delete` on Docker's
// event stream minus its own expiry time (expiresAt, as the registration answered it).
import { mapLimit } from '../src/service/map-limit.js';
import type { BenchContext } from './bench-context.js';
import { sizeOf } from './bench-context.js';
import { commitImages } from './bench-images.js';
import type { BenchResult } from './result-types.js';
import { summarize, wallMs } from './stats.js';

const CONCURRENCY = 16;
/** Registrations measured first, to choose an expiry that every registration beats. */
const PROBE = 16;

export async function runB2(ctx: BenchContext): Promise<BenchResult> {
  const n = sizeOf(ctx, 'B2', 100, 1000);
  const projectId = `b2-${ctx.run}`;
  ctx.progress(`B2: committing ${n} snapshots`);
  const images = await commitImages(ctx.docker, {
    baseImage: ctx.environment.baseImage,
    repository: `bench-b2/${ctx.run}`,
    ids: Array.from({ length: n }, (_, i) => ({ projectId, workItemId: `item-${i}` })),
  });
  const expiresAt = new Map<string, number>();
  let target = 0;
  const register = async (index: number) => {
    const img = images[index]!;
    // Whole seconds: the registration's own time decides the millisecond, so the expiries spread
    // over about one second around the target.
    const ttlSeconds = target === 0 ? 3600 : Math.max(1, Math.round((target - Date.now()) / 1000));
    const { snapshot } = await ctx.stack.api.register({
      projectId: img.projectId,
      workItemId: img.workItemId,
      image: img.image,
      host: ctx.stack.hostId,
      ttlSeconds,
    });
    expiresAt.set(img.imageId, Date.parse(snapshot.expiresAt));
  };
  // The probe registrations get a long TTL and are not counted; their rate sets the target.
  ctx.progress(`B2: probing the registration rate with ${PROBE} registrations`);
  const probeStart = wallMs();
  await mapLimit(
    Array.from({ length: PROBE }, (_, i) => i),
    CONCURRENCY,
    register,
  );
  const perSecond = PROBE / ((wallMs() - probeStart) / 1000);
  const remaining = n - PROBE;
  target = Date.now() + Math.ceil((remaining / perSecond) * 1.5 + 15) * 1000;
  ctx.progress(
    `B2: ${remaining} registrations at ~${perSecond.toFixed(1)}/s, all expiring around ${new Date(target).toISOString()}`,
  );
  const counted = Array.from({ length: remaining }, (_, i) => PROBE + i);
  await mapLimit(counted, CONCURRENCY, register);
  const registeredBy = Date.now();
  const late = counted.filter((i) => (expiresAt.get(images[i]!.imageId) ?? 0) < registeredBy).length;

  const expiries = counted.map((i) => expiresAt.get(images[i]!.imageId) ?? Number.NaN);
  const spreadMs = Math.max(...expiries) - Math.min(...expiries);
  const lastExpiry = Math.max(...expiries);
  ctx.progress(`B2: waiting for ${remaining} expiries (spread ${spreadMs} ms)`);
  const gone = await Promise.all(
    counted.map(async (i) => {
      const img = images[i]!;
      const waitMs = Math.max(0, lastExpiry - Date.now()) + 600_000;
      const event = await ctx.events.deleted(img.imageId, waitMs);
      return event.engineMs - (expiresAt.get(img.imageId) ?? Number.NaN);
    }),
  );
  const s = summarize(gone);
  return {
    id: 'B2',
    title: 'TTL expiry → image gone',
    parameters: {
      n: remaining,
      registrationConcurrency: CONCURRENCY,
      expirySpreadMs: spreadMs,
      expiredBeforeAllRegistered: late,
    },
    rows: [
      {
        what: `TTL expiry → image \`delete\` event, ${remaining} expiring within ${(spreadMs / 1000).toFixed(1)} s`,
        measured: { kind: 'latency', label: 'expiry → gone', summary: s },
        goal: 'p99 < 1 s',
        met: s.p99 < 1000,
      },
    ],
    notes: [
      'Expiry: the expiresAt the registration answered (whole-second TTLs chosen so all land on one target second); gone: the engine timestamp of the image `delete` event.',
      'No baseline: the floor is a raw `docker rmi` (B1).',
    ],
  };
}
