import { describe, expect, it } from 'vitest';
import { createReconcileHostActivities } from '../../src/activities/reconcile-host-activities.js';
import { createLogger } from '../../src/logging/logger.js';
import { managedLabels, snapshotWorkflowId } from '../../src/contract/names.js';
import { FakeDocker } from './fake-docker.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const idOf = (n: number) => `sha256:${n.toString(16).padStart(16, '0').repeat(4)}`;
const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));
const TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024;

/** An engine with `n` managed images (and a few tags each), made in the fake without per-image cost. */
function hostWith(n: number): FakeDocker {
  const docker = new FakeDocker();
  for (let i = 0; i < n; i++) {
    const tags = [`snapkeeper/snap-p${i % 50}:work-item-${i}`, `registry.example/team/snap:${i}-latest`];
    docker.addImage(idOf(i), tags, managedLabels(`p${i % 50}`, `work-item-${i}`));
    const image = docker.images.get(idOf(i));
    if (image) image.createdAt = new Date(NOW - 3_600_000).toISOString();
  }
  docker.addImage(idOf(10_000_000), ['base:latest'], {});
  return docker;
}

describe('reconcile host activities at the size of a large host', () => {
  it('page through 20,000 managed images with bounded results, listing the engine once per run', async () => {
    const docker = hostWith(20_000);
    let lists = 0;
    const listImages = docker.listImages.bind(docker);
    docker.listImages = async () => {
      lists++;
      return listImages();
    };
    const acts = createReconcileHostActivities({
      docker,
      log: createLogger({ level: 'silent' }),
      now: () => NOW,
    });

    const seen = new Set<string>();
    let after: string | null = null;
    let pages = 0;
    let largest = 0;
    do {
      const page = await acts.listManagedImagesPage({ listing: 'run-1', after, limit: 200 });
      pages++;
      largest = Math.max(largest, jsonBytes(page));
      for (const image of page.images) {
        expect(seen.has(image.imageId)).toBe(false);
        seen.add(image.imageId);
      }
      expect(page.total).toBe(20_000);
      after = page.next;
    } while (after !== null);

    expect(seen.size).toBe(20_000);
    expect(pages).toBe(100);
    expect(lists).toBe(1);
    // A page of 200 images is well under Temporal's payload limit (and independent of the host).
    expect(largest).toBeLessThan(TEMPORAL_PAYLOAD_LIMIT / 16);
    console.info(`largest page of 200 managed images: ${largest} bytes`);
  }, 60_000);

  it('a worker without the listing (restarted) lists again and goes on after the cursor', async () => {
    const docker = hostWith(1_000);
    const log = createLogger({ level: 'silent' });
    const first = createReconcileHostActivities({ docker, log, now: () => NOW });
    const page1 = await first.listManagedImagesPage({ listing: 'run-2', after: null, limit: 300 });
    // An image removed and one added meanwhile: the cursor still defines what is next.
    docker.images.delete(idOf(400));
    const second = createReconcileHostActivities({ docker, log, now: () => NOW });
    const rest: string[] = [];
    let after = page1.next;
    while (after !== null) {
      const page = await second.listManagedImagesPage({ listing: 'run-2', after, limit: 300 });
      rest.push(...page.images.map((i) => i.imageId));
      after = page.next;
    }
    const all = [...page1.images.map((i) => i.imageId), ...rest];
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(999);
    expect(all).not.toContain(idOf(400));
  });

  it('answers the vanished check from the listing: only unlisted ids are inspected', async () => {
    const docker = hostWith(5_000);
    const acts = createReconcileHostActivities({
      docker,
      log: createLogger({ level: 'silent' }),
      now: () => NOW,
    });
    await acts.listManagedImagesPage({ listing: 'run-3', after: null, limit: 10 });
    docker.calls = [];
    const ids = Array.from({ length: 100 }, (_, i) => idOf(i));
    expect(await acts.findMissingImages({ listing: 'run-3', imageIds: [...ids, idOf(9_999_999)] })).toEqual([
      idOf(9_999_999),
    ]);
    expect(docker.calls).toEqual([`inspect ${idOf(9_999_999)}`]);

    const owners = [snapshotWorkflowId('p1', 'work-item-1'), snapshotWorkflowId('p1', 'no-image-here')];
    expect(await acts.workflowsWithoutImages({ listing: 'run-3', workflowIds: owners })).toEqual([
      snapshotWorkflowId('p1', 'no-image-here'),
    ]);
  });
});
