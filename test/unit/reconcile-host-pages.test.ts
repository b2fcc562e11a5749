// The reconciler's page steps (src/workflows/reconcile/host-pages.ts) against scripted activities:
// which images of a page are owned, kept, young or removed, what a dry run counts, and how each
// removal outcome lands in the report. The workflow around them runs in the integration tests.
import { describe, expect, it } from 'vitest';
import type { RemoveOrphanResult } from '../../src/activities/reconcile-host-activities.js';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import type { ManagedImage, SnapshotOwnerView } from '../../src/contract/reconcile-types.js';
import type { ReconcileControl, ReconcileDocker } from '../../src/workflows/reconcile/host-pages.js';
import { HostPages } from '../../src/workflows/reconcile/host-pages.js';
import { ReportRecorder, emptyReport } from '../../src/workflows/reconcile/report.js';

const HOST = 'h1';
const GRACE = 60;

function image(id: string, over: Partial<ManagedImage> = {}): ManagedImage {
  return {
    imageId: `sha256:${id}`,
    tags: [`snap:${id}`],
    projectId: 'p',
    workItemId: id,
    createdAt: '2026-12-07T00:00:00.000Z',
    ageSeconds: 3600,
    sizeBytes: 10,
    ...over,
  };
}

function running(img: ManagedImage): SnapshotOwnerView {
  return {
    workflowId: snapshotWorkflowId('p', img.workItemId as string),
    status: 'running',
    images: [{ imageId: img.imageId, image: img.tags[0] as string, host: HOST, role: 'current' }],
    current: null,
    error: null,
  };
}

interface Calls {
  fenced: string[][];
  removed: string[][];
}

interface SetUp {
  dryRun: boolean;
  owners: SnapshotOwnerView[];
  outcomes?: RemoveOrphanResult[];
  /** Runs when the orphans are fenced, before the owners are asked again. */
  onFence?: () => void;
}

function setUp(options: SetUp) {
  const calls: Calls = { fenced: [], removed: [] };
  const docker = {
    findMissingImages: async () => [],
    fenceOrphanImages: async ({ imageIds }: { imageIds: string[] }) => {
      calls.fenced.push(imageIds);
      options.onFence?.();
    },
    unfenceImages: async () => undefined,
    removeOrphanImages: async ({ imageIds }: { imageIds: string[] }) => {
      calls.removed.push(imageIds);
      return imageIds.map((_, k) => options.outcomes?.[k] ?? { outcome: 'removed', holders: [] });
    },
    workflowsWithoutImages: async () => [],
  } as unknown as ReconcileDocker;
  const control = {
    describeSnapshotWorkflows: async ({ workflowIds }: { workflowIds: string[] }) =>
      options.owners.filter((o) => workflowIds.includes(o.workflowId)),
    signalVanished: async () => undefined,
  } as unknown as ReconcileControl;
  const report = emptyReport({ host: HOST, orphanGraceSeconds: GRACE, dryRun: options.dryRun }, 'now');
  const pages = new HostPages({
    host: HOST,
    dryRun: options.dryRun,
    orphanGraceSeconds: GRACE,
    listing: 'l',
    docker,
    control,
    record: new ReportRecorder(report),
  });
  return { pages, report, calls };
}

describe('reconcile page steps', () => {
  it('sorts a page: owned, kept, young, and orphans fenced then removed', async () => {
    const owned = image('owned');
    const kept = image('kept', { keptBy: { references: ['other:tag'], derived: false } });
    const young = image('young', { ageSeconds: 5 });
    const orphan = image('orphan');
    const { pages, report, calls } = setUp({ dryRun: false, owners: [running(owned)] });
    await pages.decideImages([owned, kept, young, orphan]);
    expect(report.managedImages).toBe(4);
    expect(report.owned).toBe(1);
    expect(report.counts).toMatchObject({
      kept: 1,
      orphansKeptYoung: 1,
      orphansRemoved: 1,
      orphanBytesRemoved: 10,
    });
    expect(calls.fenced).toEqual([[orphan.imageId]]);
    expect(calls.removed).toEqual([[orphan.imageId]]);
  });

  it('a dry run counts an old orphan as removed and a leased one as young, and removes nothing', async () => {
    const orphan = image('orphan');
    const leased = image('leased', { lease: { leaseId: 'lease:1', reason: 'lease lease:1 is live' } });
    const { pages, report, calls } = setUp({ dryRun: true, owners: [] });
    await pages.decideImages([orphan, leased]);
    expect(report.orphansRemoved.map((i) => i.imageId)).toEqual([orphan.imageId]);
    expect(report.orphansKeptYoung.map((i) => i.imageId)).toEqual([leased.imageId]);
    expect(calls.fenced).toEqual([]);
    expect(calls.removed).toEqual([]);
  });

  it('records each removal outcome: blocked by a container or by children, kept, too young', async () => {
    const images = ['a', 'b', 'c', 'd', 'e'].map((id) => image(id));
    const outcomes: RemoveOrphanResult[] = [
      { outcome: 'in-use', holders: ['0123456789abcdef'] },
      { outcome: 'held-by-children', holders: ['sha256:0123456789abcdef0123'] },
      { outcome: 'kept', holders: ['other:tag'] },
      { outcome: 'too-young', holders: [], reason: 'lease lease:1 is live' },
      { outcome: 'already-gone', holders: [] },
    ];
    const { pages, report } = setUp({ dryRun: false, owners: [], outcomes });
    await pages.decideImages(images);
    expect(report.blocked.map((b) => b.reason)).toEqual([
      'in use by container(s) 0123456789ab',
      'its layers are held by child image(s) sha256:0123456789ab',
    ]);
    expect(report.kept?.map((k) => k.references)).toEqual([['other:tag']]);
    expect(report.counts).toMatchObject({ blocked: 2, kept: 1, orphansKeptYoung: 1, orphansRemoved: 1 });
  });

  it('spares an orphan whose owner took it between the page and the removal', async () => {
    const orphan = image('raced');
    const owners: SnapshotOwnerView[] = [];
    // The first ask finds no owner; the owner registers the image before the re-check.
    const { pages, report, calls } = setUp({
      dryRun: false,
      owners,
      onFence: () => owners.push(running(orphan)),
    });
    await pages.decideImages([orphan]);
    expect(calls.fenced).toEqual([[orphan.imageId]]);
    expect(calls.removed).toEqual([]);
    expect(report.owned).toBe(1);
  });
});
