// Concurrent merge looks share one visibility query per repository (issue 19's B4): the real dev
// server answers `SnapshotPullRequest IN (…)` with every linked snapshot, and each look gets its own
// rows back; merge webhooks that arrive together through the real API end each its own snapshot.
import { randomUUID } from 'node:crypto';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coalescedPullRequestLookup } from '../../src/service/coalesced-pull-request-lookup.js';
import type { SnapshotService } from '../../src/service/snapshot-service.js';
import { createSnapshotService } from '../../src/service/snapshot-service.js';
import type { VisibilityClient } from '../../src/service/visibility.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { TEST_WORKFLOW_OPTIONS, startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { newDocker, uniqueIds } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { delivery, pullRequestEvent } from '../unit/api-github-payloads.js';
import type { ApiUnderTest } from './api-helpers.js';
import { DEADLINE, TEST_SECRET, postWebhook, startApi } from './api-helpers.js';

const RUN = randomUUID().slice(0, 8);
const HOST = `merge-looks-${RUN}`;
const REPO = `it-org/merge-looks-${RUN}`;

let worker: InProcessWorker;
let docker: Dockerode;
let service: SnapshotService;
let api: ApiUnderTest;

beforeAll(async () => {
  docker = newDocker();
  worker = await startInProcessWorker({ hostId: HOST });
  service = createSnapshotService({
    client: worker.client,
    defaultTtlSeconds: 3600,
    workflowOptions: TEST_WORKFLOW_OPTIONS,
  });
  api = await startApi(worker, { service });
});

afterAll(async () => {
  await api?.close();
  await worker?.stop();
});

/** Registers one snapshot per entry, linked to that pull request, and waits until visibility lists them all. */
async function linked(numbers: number[], name: string) {
  const snaps = await Promise.all(
    numbers.map(async (number, i) => {
      const ids = uniqueIds(`${name}-${i}`);
      const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
      await service.register({
        ...ids,
        image: img.image,
        host: HOST,
        pullRequest: { repository: REPO, number },
      });
      return { ids, number, imageId: img.imageId };
    }),
  );
  const wanted = numbers.map((n) => `SnapshotPullRequest = ${n}`).join(' OR ');
  await waitFor(
    async () =>
      (
        await worker.client.workflow.count(
          `SnapshotRepository = '${REPO}' AND ExecutionStatus = 'Running' AND (${wanted})`,
        )
      ).count >= snaps.length,
    { ...DEADLINE, message: `visibility never listed the ${snaps.length} links` },
  );
  return snaps;
}

describe('merge looks coalesced per repository, on the real server', () => {
  it('looks at once: one query for those that waited, each answered with its own snapshots', async () => {
    const snaps = await linked([101, 102, 103, 103], 'look');
    const asked: string[] = [];
    const client = worker.client;
    const counting: VisibilityClient = {
      options: client.options,
      workflowService: {
        listWorkflowExecutions: (req) => {
          asked.push(req.query);
          return client.workflowService.listWorkflowExecutions(req);
        },
      },
    };
    const find = coalescedPullRequestLookup(counting);
    const [a, b, c, none] = await Promise.all(
      [101, 102, 103, 104].map((number) => find({ repository: REPO, number })),
    );
    const byPr = (n: number) =>
      snaps
        .filter((s) => s.number === n)
        .map((s) => s.ids)
        .sort((x, y) => x.workItemId.localeCompare(y.workItemId));
    const sorted = (found: typeof a) =>
      [...(found ?? [])].sort((x, y) => x.workItemId.localeCompare(y.workItemId));
    expect(sorted(a)).toEqual(byPr(101));
    expect(sorted(b)).toEqual(byPr(102));
    expect(sorted(c)).toEqual(byPr(103));
    expect(none).toEqual([]);
    expect(asked).toHaveLength(2);
    expect(asked[1]).toContain('SnapshotPullRequest IN (102, 103, 104)');
  });

  it('merge webhooks that arrive together each end their own snapshot, through the fast pass', async () => {
    const snaps = await linked([201, 202, 203, 204], 'hook');
    const bystander = await linked([205], 'bystander');
    const answers = await Promise.all(
      [201, 202, 203, 204].map((number) =>
        postWebhook(
          api.baseUrl,
          delivery(
            'pull_request',
            pullRequestEvent({ repository: REPO, number, headRef: `branch-${number}` }),
            TEST_SECRET,
          ),
        ),
      ),
    );
    for (const [i, res] of answers.entries()) {
      expect(res.status).toBe(202);
      // The fast pass (when it finished within its 3 s) found and signalled this pull request's own
      // snapshot, and no other.
      if (res.body.workItems !== undefined)
        expect(res.body.workItems).toEqual([
          expect.objectContaining({ ...snaps[i]?.ids, match: 'link', signalled: true }),
        ]);
    }
    for (const s of snaps)
      await waitFor(async () => !(await imageExists(docker, s.imageId)), {
        ...DEADLINE,
        message: `the snapshot of pull request ${s.number} was not removed`,
      });
    expect(await imageExists(docker, bystander[0]?.imageId ?? '')).toBe(true);
  });
});
