import { describe, expect, it } from 'vitest';
import { createBudgetHostActivities } from '../../src/activities/budget-host-activities.js';
import { parseProjectPolicies } from '../../src/config/project-policy.js';
import { createLogger } from '../../src/logging/logger.js';
import { managedLabels } from '../../src/contract/names.js';
import { createWorkerMetrics } from '../../src/worker/worker-metrics.js';
import { FakeDocker } from './fake-docker.js';

const id = (c: string) => `sha256:${c.repeat(64)}`;
const log = createLogger({ level: 'silent' });

function setup(statfs = async () => ({ bsize: 4096, blocks: 1000, bfree: 250, bavail: 200 })) {
  const docker = new FakeDocker();
  docker.addImage(id('0'), ['base:latest'], {});
  docker.images.get(id('0'))!.sizeBytes = 1_000;
  docker.addImage(id('a'), ['snap/p:a'], managedLabels('p', 'a'), id('0'));
  docker.images.get(id('a'))!.sizeBytes = 41_000;
  docker.addImage(id('b'), ['snap/p:b'], managedLabels('p', 'b'));
  docker.images.get(id('b'))!.sizeBytes = 7_000;
  const metrics = createWorkerMetrics();
  const paths: string[] = [];
  const acts = createBudgetHostActivities({
    docker,
    log,
    metrics,
    budget: { maxSnapshots: 5, maxBytes: 10_000_000, diskHighPercent: 70, diskLowPercent: 60 },
    policies: parseProjectPolicies('projects:\n  small:\n    maxSnapshots: 2\n  big: {}\n'),
    statfs: async (path: string) => {
      paths.push(path);
      return statfs();
    },
  });
  return { docker, acts, metrics, paths };
}

describe('budget host activities', () => {
  it('reports the host limits and the per-project limits it was asked about', async () => {
    const { acts } = setup();
    const facts = await acts.budgetFacts({
      host: 'h1',
      projectIds: ['small', 'big', 'unknown'],
      pendingImageIds: [],
      uniqueFor: [],
    });
    expect(facts.limits).toEqual({
      maxSnapshots: 5,
      maxBytes: 10_000_000,
      diskHighPercent: 70,
      diskLowPercent: 60,
      projectMaxSnapshots: { small: 2 },
    });
  });

  it("measures the filesystem of the engine's data root as df does", async () => {
    const { acts, paths, metrics } = setup();
    const facts = await acts.budgetFacts({ host: 'h1', projectIds: [], pendingImageIds: [], uniqueFor: [] });
    expect(paths).toEqual(['/var/lib/docker']);
    // used = (1000 - 250) blocks; capacity for users = used + 200 available.
    expect(facts.disk).toEqual({
      dataRoot: '/var/lib/docker',
      usedBytes: 750 * 4096,
      totalBytes: 950 * 4096,
    });
    expect(await metrics.registry.getSingleMetricAsString('snapkeeper_disk_used_percent')).toContain(
      `snapkeeper_disk_used_percent{host="h1"} ${(750 / 950) * 100}`,
    );
  });

  it('turns the disk watermarks off (null) when the data root cannot be measured', async () => {
    const { acts } = setup(async () => {
      throw new Error('ENOENT');
    });
    const facts = await acts.budgetFacts({ host: 'h1', projectIds: [], pendingImageIds: [], uniqueFor: [] });
    expect(facts.disk).toBeNull();
  });

  it("estimates what a removal frees as the image's size less its parent's", async () => {
    const { acts } = setup();
    const facts = await acts.budgetFacts({
      host: 'h1',
      projectIds: [],
      pendingImageIds: [id('b'), id('gone')],
      uniqueFor: [id('a'), id('b')],
    });
    expect(facts.uniqueBytes).toEqual({ [id('a')]: 40_000, [id('b')]: 7_000 });
    // Pending removals that are already gone from the engine are not listed: they were freed.
    expect(facts.pendingPresent).toEqual({ [id('b')]: 7_000 });
  });

  it('records decisions as metrics', async () => {
    const { acts, metrics } = setup();
    await acts.recordBudgetDecision({
      host: 'h1',
      decision: {
        at: new Date().toISOString(),
        trigger: 'admit',
        workflowId: 'snapshot:p:x',
        evicted: [
          {
            workflowId: 'snapshot:p:a',
            projectId: 'p',
            imageId: id('a'),
            limit: 'count',
            reason: 'evicted: …',
          },
        ],
        usage: { snapshots: 3, bytes: 1234, diskUsedPercent: 50, diskEstimatedPercent: 50 },
        limits: null,
      },
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('snapkeeper_budget_evictions_total{host="h1",limit="count"} 1');
    expect(text).toContain('snapkeeper_budget_snapshots{host="h1"} 3');
    expect(text).toContain('snapkeeper_budget_bytes{host="h1"} 1234');
  });
});
