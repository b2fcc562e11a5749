// The reconciler and the budget on a real engine holding thousands of real committed snapshot images.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapLimit } from '../../src/service/map-limit.js';
import type { BudgetView } from '../../src/contract/budget-types.js';
import { commitManyImages } from '../support/many-images.js';
import { imageExists } from '../support/snapshot-images.js';
import { waitFor } from '../support/wait-for.js';
import type { TestHost } from './reconcile-fixture.js';
import { startTestHost } from './reconcile-fixture.js';

const IMAGES = Number(process.env.SNAPKEEPER_SCALE_ENGINE_IMAGES ?? 2000);
const REGISTERED = 100;
const MAX_SNAPSHOTS = 80;

let host: TestHost;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

// Minutes long (2,000 real images): run with SNAPKEEPER_SCALE_TESTS=1, as docs/operations.md says.
describe.skipIf(process.env.SNAPKEEPER_SCALE_TESTS !== '1')(
  'reconciler and budget on a real engine with thousands of images',
  () => {
    beforeAll(async () => {
      host = await startTestHost({
        name: 'escale',
        env: { SNAPKEEPER_MAX_SNAPSHOTS: String(MAX_SNAPSHOTS) },
      });
    });

    afterAll(async () => {
      await host?.stop();
    });

    it(`keeps the budget at registration and reaps ${IMAGES - REGISTERED} orphans among ${IMAGES} real images`, async () => {
      const run = randomBytes(3).toString('hex');
      let t = Date.now();
      const images = await commitManyImages(host.docker, {
        count: IMAGES,
        idsOf: (n) => ({ projectId: `escale-${run}-${n % 40}`, workItemId: `w-${n}` }),
        repository: `snapkeeper-test/escale-${run}`,
      });
      const commitSeconds = (Date.now() - t) / 1000;

      // Registrations one after the other (LRU order is registration order); past the count limit,
      // each one evicts exactly the least recently used.
      const registered = images.slice(0, REGISTERED);
      const latencies: number[] = [];
      for (const r of registered) {
        const start = Date.now();
        await host.service.register({
          projectId: r.projectId,
          workItemId: r.workItemId,
          image: r.image,
          host: host.hostId,
        });
        latencies.push(Date.now() - start);
      }
      const evicted = registered.slice(0, REGISTERED - MAX_SNAPSHOTS);
      const budget = (await host.budget()) as BudgetView;
      expect(budget.totals.count).toBe(MAX_SNAPSHOTS);
      expect(budget.evictionsTotal).toBe(evicted.length);
      await waitFor(
        async () => {
          const left = await mapLimit(evicted, 8, (e) => imageExists(host.docker, e.imageId));
          return left.every((x) => !x);
        },
        { timeoutMs: 120_000, intervalMs: 1000, message: 'evicted snapshots were not removed' },
      );

      t = Date.now();
      const report = await host.reconcile({ orphanGraceSeconds: 0, dryRun: false });
      const reconcileSeconds = (Date.now() - t) / 1000;
      expect(report.error).toBeNull();
      expect(report.managedImages).toBe(IMAGES - evicted.length);
      expect(report.owned).toBe(MAX_SNAPSHOTS);
      expect(report.counts.orphansRemoved).toBe(IMAGES - REGISTERED);
      expect(report.counts.blocked).toBe(0);
      const kept = await mapLimit(registered.slice(evicted.length), 8, (r) =>
        imageExists(host.docker, r.imageId),
      );
      expect(kept.every(Boolean)).toBe(true);
      const orphansLeft = await mapLimit(images.slice(REGISTERED), 8, (r) =>
        imageExists(host.docker, r.imageId),
      );
      expect(orphansLeft.filter(Boolean)).toHaveLength(0);
      // The budget check at the end of the run counted the host again: the same snapshots.
      expect(((await host.budget()) as BudgetView).totals.count).toBe(MAX_SNAPSHOTS);

      console.info(
        `real engine: ${IMAGES} images committed in ${commitSeconds.toFixed(1)} s; registration median ` +
          `${median(latencies.slice(0, 10))} ms (first 10) / ${median(latencies.slice(-10))} ms (last 10, evicting); ` +
          `reconcile of ${IMAGES - evicted.length} managed images removing ${report.counts.orphansRemoved}: ` +
          `${reconcileSeconds.toFixed(1)} s (${report.generations ?? 0} continue-as-new)`,
      );
    }, 1_200_000);
  },
);
