// B6: one reconcile of a host whose engine holds many managed images, a tenth of them orphans,
// against `docker image prune -a -f --filter label=…` removing as many images from a like set on
// the same engine. The host has an engine and a Docker worker of its own, so nothing of the other
// benchmarks is on it.
import { join } from 'node:path';
import { startDockerEngine } from '../scripts/lib/docker-engine.js';
import { ensureBaseImage } from '../scripts/lib/base-image.js';
import { startNodeService } from '../scripts/lib/node-service.js';
import { mapLimit } from '../src/service/map-limit.js';
import { createDockerode } from '../src/docker/dockerode-adapter.js';
import { startReconcile } from '../src/service/run-reconcile.js';
import type { BenchContext } from './bench-context.js';
import { sizeOf } from './bench-context.js';
import { BASE_IMAGE } from './bench-environment.js';
import { commitImages } from './bench-images.js';
import type { BenchResult } from './result-types.js';
import { childEnv } from './snapkeeper-stack.js';
import { wallMs } from './stats.js';

const HOST = 'bench-b6';

export async function runB6(ctx: BenchContext): Promise<BenchResult> {
  const total = sizeOf(ctx, 'B6', 100, 1000);
  const orphans = Math.round(total / 10);
  const projectId = `b6-${ctx.run}`;
  const engine = await startDockerEngine(join(ctx.dir, 'engine-b6'));
  const worker = await startNodeService({
    name: 'worker-b6',
    entry: 'src/worker/main.ts',
    env: childEnv({
      TEMPORAL_ADDRESS: ctx.environment.temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      DOCKER_HOST: engine.dockerHost,
      SNAPKEEPER_HOST_ID: HOST,
      SNAPKEEPER_WORKER_ROLES: 'docker',
      SNAPKEEPER_LOG_LEVEL: 'info',
      SNAPKEEPER_RECONCILE_INTERVAL: '24h',
      SNAPKEEPER_ORPHAN_GRACE: '24h',
      SNAPKEEPER_WORKER_METRICS_PORT: '0',
    }),
    readyMessage: 'worker ready',
  });
  try {
    await worker.waitReady(120_000);
    await ensureBaseImage(engine.dockerHost, BASE_IMAGE);
    const docker = createDockerode(engine.dockerHost);
    ctx.progress(`B6: committing ${total} managed images and a like set of ${total} for prune`);
    const managed = await commitImages(docker, {
      baseImage: BASE_IMAGE,
      repository: `bench-b6/${ctx.run}`,
      ids: Array.from({ length: total }, (_, i) => ({ projectId, workItemId: `item-${i}` })),
    });
    const pruneLabel = `io.snapkeeper-bench.prune=${ctx.run}`;
    await commitImages(docker, {
      baseImage: BASE_IMAGE,
      repository: `bench-b6-like/${ctx.run}`,
      ids: Array.from({ length: total }, (_, i) => ({
        projectId: `${projectId}-like`,
        workItemId: `like-${i}`,
      })),
      extraLabels: (i) => ({
        'io.snapkeeper-bench.like': ctx.run,
        ...(i < orphans ? { 'io.snapkeeper-bench.prune': ctx.run } : {}),
      }),
      managed: false,
    });
    const owned = managed.slice(orphans);
    ctx.progress(`B6: registering ${owned.length} of them; ${orphans} stay orphans`);
    await mapLimit(owned, 16, async (img) => {
      await ctx.stack.api.register({
        projectId: img.projectId,
        workItemId: img.workItemId,
        image: img.image,
        host: HOST,
      });
    });

    ctx.progress('B6: one reconcile of the host, then one prune of the like set');
    const t0 = wallMs();
    const started = await startReconcile(ctx.stack.client, {
      hosts: [HOST],
      orphanGraceSeconds: 0,
      dryRun: false,
    });
    const result = await started.result();
    const reconcileMs = wallMs() - t0;
    const report = result.reports.find((r) => r.host === HOST);
    if (!report || report.error)
      throw new Error(`B6: the reconcile of ${HOST} failed: ${report?.error ?? 'no report'}`);
    if (report.counts.orphansRemoved !== orphans)
      throw new Error(`B6: the reconcile removed ${report.counts.orphansRemoved} orphans, not ${orphans}`);
    const hostMs = Date.parse(report.finishedAt) - Date.parse(report.startedAt);

    const p0 = wallMs();
    const pruned = (await docker.pruneImages({
      filters: JSON.stringify({ dangling: ['false'], label: [pruneLabel] }),
    })) as { ImagesDeleted?: Array<{ Deleted?: string }> | null };
    const pruneMs = wallMs() - p0;
    const deleted = (pruned.ImagesDeleted ?? []).filter((d) => d.Deleted).length;
    if (deleted < orphans) throw new Error(`B6: prune deleted ${deleted} images, not ${orphans}`);
    return {
      id: 'B6',
      title: 'reconcile',
      parameters: {
        managedImages: total,
        orphans,
        likeSetForPrune: total,
        imagesOnEngine: 2 * total + 1,
      },
      rows: [
        {
          what: `one reconcile: ${total} managed images, ${orphans} orphans removed`,
          measured: { kind: 'figure', label: 'reconcile (start → result)', value: reconcileMs, unit: 'ms' },
          baseline: {
            kind: 'figure',
            label: '`docker image prune -a -f --filter label=…`',
            value: pruneMs,
            unit: 'ms',
          },
          ratio: reconcileMs / pruneMs,
          goal: 'report the ratio',
        },
        {
          what: "the host's part of the reconcile (report startedAt → finishedAt)",
          measured: { kind: 'figure', label: 'host reconcile', value: hostMs, unit: 'ms' },
        },
      ],
      notes: [
        `The prune is the Engine API call the CLI makes (POST /images/prune, filters dangling=false and label=${'io.snapkeeper-bench.prune'}); it removed ${deleted} images of the like set.`,
        'The reconcile lists the managed images, asks every owner workflow, and removes the orphans (grace 0 s) with the same safety steps as always (reaping tag, last owner check).',
      ],
    };
  } finally {
    await worker.stop('SIGTERM', 30_000).catch(() => undefined);
    await engine.stop().catch(() => undefined);
  }
}
