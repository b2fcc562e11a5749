// B1's Temporal floor, measured beside every merge: a raw client signal to a trivial workflow that
// then removes its own image (bench/workflows/signal-floor-workflow.ts), in two shapes. The figure
// is from the signal's send to the image's `delete` event, like B1's own; what snapkeeper adds on
// top (its API, its lookup, its workflow's work) is the difference.
import type { Client } from '@temporalio/client';
import { mapLimit } from '../src/service/map-limit.js';
import type { BenchContext } from './bench-context.js';
import { commitImages } from './bench-images.js';
import type { BenchImage } from './bench-images.js';
import { startFloorWorker } from './floor-worker.js';
import type { FloorSample } from './merge-timeline.js';
import { wallMs } from './stats.js';
import type { FloorShape } from './workflows/signal-floor-workflow.js';
import { goSignal } from './workflows/signal-floor-workflow.js';
import { TIMER_TASK_QUEUE } from './workflows/ttl-timer-workflow.js';

export const FLOOR_SHAPES: readonly FloorShape[] = ['activity', 'local-activity'];

export interface SignalFloor {
  /** Signals the i-th workflow of `shape`; its image's `delete` event, as a sample. */
  measure(shape: FloorShape, i: number, timeoutMs: number): Promise<FloorSample>;
  stop(): Promise<void>;
}

export async function startSignalFloor(ctx: BenchContext, total: number): Promise<SignalFloor> {
  const images = new Map<FloorShape, BenchImage[]>();
  for (const shape of FLOOR_SHAPES) {
    // Without the managed labels: no part of snapkeeper may take them while they are measured.
    images.set(
      shape,
      await commitImages(ctx.docker, {
        baseImage: ctx.environment.baseImage,
        repository: `bench-b1-floor-${shape}/${ctx.run}`,
        ids: Array.from({ length: total }, (_, i) => ({
          projectId: `b1-floor-${ctx.run}`,
          workItemId: `f-${i}`,
        })),
        managed: false,
      }),
    );
  }
  const worker = await startFloorWorker(ctx);
  const client: Client = ctx.stack.client;
  const workflowId = (shape: FloorShape, i: number) => `bench-b1-floor-${ctx.run}-${shape}-${i}`;
  try {
    for (const shape of FLOOR_SHAPES) {
      await mapLimit(images.get(shape)!, 16, (img, i) =>
        client.workflow.start('benchSignalWorkflow', {
          workflowId: workflowId(shape, i),
          taskQueue: TIMER_TASK_QUEUE,
          args: [img.imageId, shape],
        }),
      );
    }
  } catch (err) {
    await worker.stop('SIGTERM', 30_000);
    throw err;
  }
  return {
    async measure(shape, i, timeoutMs) {
      const img = images.get(shape)![i]!;
      const id = workflowId(shape, i);
      const sentMs = wallMs();
      await client.workflow.getHandle(id).signal(goSignal);
      const answeredMs = wallMs();
      const gone = await ctx.events.deleted(img.imageId, timeoutMs);
      return { workflowId: id, sentMs, answeredMs, goneMs: gone.engineMs };
    },
    async stop() {
      await worker.stop('SIGTERM', 30_000);
    },
  };
}
