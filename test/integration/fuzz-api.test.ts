// Thousands of generated hostile requests against the API process (the real one, on the shared
// dev server, with a worker and the private engine): every answer is a documented status with a
// JSON error, the server keeps answering health checks, forged requests change no workflow, and
// no unmanaged image is touched. FUZZ_SEED replays a run; FUZZ_REQUESTS changes its size.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import type { SnapshotWorkflowView } from '../../src/contract/snapshot-types.js';
import { stateQuery } from '../../src/contract/messages.js';
import { DOCUMENTED } from '../fuzz/documented-statuses.js';
import type { FuzzCase, FuzzTargets, Sentinel } from '../fuzz/fuzz-cases.js';
import { fuzzCase } from '../fuzz/fuzz-cases.js';
import { hostileSequence, runHostileSequence } from '../fuzz/hostile-order.js';
import type { RawAnswer, RawRequest } from '../fuzz/raw-http.js';
import { sendRaw } from '../fuzz/raw-http.js';
import type { InProcessWorker } from '../support/in-process-worker.js';
import { startInProcessWorker } from '../support/in-process-worker.js';
import { imageExists, makeSnapshotImage } from '../support/snapshot-images.js';
import { newDocker, testEnv } from '../support/test-env.js';
import { waitFor } from '../support/wait-for.js';
import type { ApiProcess } from '../support/worker-process.js';
import { startListeningApi } from '../support/worker-process.js';

const RUN = randomUUID().slice(0, 8);
const HOST = `fuzz-${RUN}`;
const REPO = `fuzz-org/app-${RUN}`;
const HOSTILE_PROJECT = `fuzz-ho-${RUN}`;
const TOKEN = `fuzz-token-${RUN}`;
const SECRET = `fuzz-secret-${RUN}`;
const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 5_000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CONCURRENCY = 12;
const HOSTILE_ITEMS = 10;

let worker: InProcessWorker;
let api: ApiProcess;
let baseUrl: string;
let apiExit: unknown;
let docker: Dockerode;
let targets: FuzzTargets;
const protectedImages: Array<{ ref: string; id: string }> = [];

beforeAll(async () => {
  docker = newDocker();
  worker = await startInProcessWorker({ hostId: HOST });
  const dir = join(testEnv().workDir, `fuzz-${RUN}`);
  await mkdir(dir, { recursive: true });
  const policyFile = join(dir, 'policy.yaml');
  await writeFile(
    policyFile,
    [
      'projects:',
      `  ${HOSTILE_PROJECT}:`,
      '    branchRules:',
      `      - repository: ${REPO}`,
      `        pattern: '^fz-ho/(?<workItemId>[A-Za-z0-9._-]+)$'`,
      `  fuzz-off-${RUN}:`,
      '    enabled: false',
      '',
    ].join('\n'),
  );
  ({ api, url: baseUrl } = await startListeningApi({
    env: {
      TEMPORAL_ADDRESS: testEnv().temporalAddress,
      SNAPKEEPER_HOST_ID: HOST,
      SNAPKEEPER_API_TOKEN: TOKEN,
      GITHUB_WEBHOOK_SECRET: SECRET,
      SNAPKEEPER_CONFIG: policyFile,
    },
  }));
  void api.exited.then((exit) => {
    apiExit = exit;
  });

  // Snapshots the fuzz must never change: each linked to a pull request the forged merges name.
  const sentinels: Sentinel[] = [];
  for (let i = 0; i < 3; i++) {
    const ids = { projectId: `fuzz-s-${RUN}`, workItemId: `sentinel-${i}-${RUN}` };
    const img = await makeSnapshotImage(docker, { ...ids, labels: 'managed' });
    const res = await sendRaw(baseUrl, {
      method: 'POST',
      path: '/v1/snapshots',
      headers: [
        ['authorization', `Bearer ${TOKEN}`],
        ['content-type', 'application/json'],
      ],
      body: JSON.stringify({
        ...ids,
        image: img.image,
        host: HOST,
        pullRequest: { repository: REPO, number: 900 + i },
      }),
    });
    expect(res.status, res.text).toBe(201);
    sentinels.push({ ...ids, image: img.image, imageId: img.imageId, pullRequest: 900 + i });
  }
  // The forged merges name these pull requests: the links must be visible, or a believed forgery
  // would find nothing to end and prove nothing.
  await waitFor(
    async () => {
      const res = await sendRaw(baseUrl, {
        method: 'GET',
        path: `/v1/snapshots?projectId=fuzz-s-${RUN}`,
        headers: [['authorization', `Bearer ${TOKEN}`]],
      });
      const items = (JSON.parse(res.text) as { items?: Array<{ pullRequest: unknown }> }).items ?? [];
      return items.filter((i) => i.pullRequest).length === sentinels.length;
    },
    { timeoutMs: 60_000, message: 'the sentinels did not reach visibility' },
  );

  const plain = await makeSnapshotImage(docker, {
    projectId: 'fuzz',
    workItemId: 'plain',
    labels: 'none',
    tag: `fuzz-${RUN}/plain:x`,
  });
  const env = testEnv();
  protectedImages.push(
    { ref: env.baseImage, id: env.baseImageId },
    { ref: env.canaryImage, id: env.canaryImageId },
    { ref: plain.image, id: plain.imageId },
    ...sentinels.map((s) => ({ ref: s.image, id: s.imageId })),
  );
  const short = (id: string) => id.slice('sha256:'.length, 'sha256:'.length + 12);
  targets = {
    token: TOKEN,
    secret: SECRET,
    host: HOST,
    repository: REPO,
    disabledProject: `fuzz-off-${RUN}`,
    sentinels,
    unmanagedRefs: [
      env.baseImage,
      env.baseImageId,
      short(env.baseImageId),
      env.canaryImage,
      env.canaryImageId,
      plain.image,
      plain.imageId,
    ],
    missingRefs: [
      `fuzz-${RUN}/gone:x`,
      'fuzz/nothing:here',
      'busybox',
      'ubuntu:latest',
      'f'.repeat(64),
      `sha256:${'0'.repeat(64)}`,
    ],
  };
}, 240_000);

afterAll(async () => {
  // Leave nothing behind on the shared engine: end the snapshots this file made.
  if (worker) {
    for await (const w of worker.client.workflow.list({
      query: `WorkflowType='snapshotWorkflow' AND ExecutionStatus='Running' AND SnapshotHost='${HOST}'`,
    }))
      await worker.client.workflow
        .getHandle(w.workflowId)
        .cancel()
        .catch(() => undefined);
  }
  await api?.stop();
  await worker?.stop();
});

interface Failure {
  category: string;
  request: string;
  status: number | string;
  expected: readonly number[];
  answer: string;
}

function describeRequest(req: RawRequest): string {
  const body =
    req.body === undefined
      ? ''
      : ` body(${req.body.length})=${JSON.stringify(String(req.body).slice(0, 160))}`;
  return `${req.method} ${req.path.slice(0, 200)} headers=${JSON.stringify(req.headers.filter(([k]) => k !== 'authorization'))}${body}`;
}

/** Each answer: an expected status, JSON, and for errors `{ error, message }` strings. */
function check(
  c: { category: string; req: RawRequest; expected: readonly number[] },
  res: RawAnswer,
): Failure | undefined {
  const fail = (why: string): Failure => ({
    category: c.category,
    request: describeRequest(c.req),
    status: res.status,
    expected: c.expected,
    answer: `${why}: ${res.text.slice(0, 300)}`,
  });
  if (!c.expected.includes(res.status)) return fail('unexpected status');
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return fail('not JSON');
  }
  if (!res.contentType?.startsWith('application/json')) return fail(`content-type ${res.contentType}`);
  if (res.status >= 400) {
    const b = body as { error?: unknown; message?: unknown };
    if (typeof b.error !== 'string' || typeof b.message !== 'string') return fail('no {error, message}');
  }
  return undefined;
}

async function viewOf(s: { projectId: string; workItemId: string }): Promise<SnapshotWorkflowView> {
  return worker.client.workflow.getHandle(snapshotWorkflowId(s.projectId, s.workItemId)).query(stateQuery);
}

describe('fuzzing the API', () => {
  it(`answers ${TOTAL} generated hostile requests with documented statuses, stays up, changes nothing it should not`, async () => {
    const sentinelBefore = await Promise.all(targets.sentinels.map(viewOf));
    const byStatus = new Map<number, number>();
    const byCategory = new Map<string, number>();
    const failures: Failure[] = [];
    const registered = new Set<string>();
    let sent = 0;

    const send = async (c: {
      category: string;
      req: RawRequest;
      expected: readonly number[];
    }): Promise<number> => {
      sent++;
      byCategory.set(c.category, (byCategory.get(c.category) ?? 0) + 1);
      let res: RawAnswer;
      try {
        res = await sendRaw(baseUrl, c.req);
      } catch (err) {
        failures.push({
          category: c.category,
          request: describeRequest(c.req),
          status: 'no answer',
          expected: c.expected,
          answer: String(err),
        });
        return 0;
      }
      byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
      const failure = check(c, res);
      if (failure) failures.push(failure);
      return res.status;
    };

    // The server must answer its health check all along.
    const health = { ok: 0, failed: 0 };
    let fuzzing = true;
    const healthLoop = (async () => {
      while (fuzzing) {
        const res = await sendRaw(baseUrl, { method: 'GET', path: '/healthz', headers: [] }, 20_000).catch(
          () => undefined,
        );
        if (res?.status === 200) health.ok++;
        else health.failed++;
        await sleep(100);
      }
    })();

    // Valid requests in hostile order, for work items of their own, alongside the random ones.
    const sequences = fc.sample(hostileSequence, { seed: SEED, numRuns: HOSTILE_ITEMS });
    const hostileImages: Array<{ ids: { projectId: string; workItemId: string }; images: string[] }> = [];
    const hostile = Promise.all(
      sequences.map(async (ops, i) => {
        const ids = { projectId: HOSTILE_PROJECT, workItemId: `ho-${i}-${RUN}` };
        const outcome = await runHostileSequence(ops, {
          ...ids,
          repository: REPO,
          headRef: `fz-ho/${ids.workItemId}`,
          secret: SECRET,
          firstPullRequest: 5_000 + i * 100,
          authHeaders: [['authorization', `Bearer ${TOKEN}`]],
          commit: () => makeSnapshotImage(docker, { ...ids, labels: 'managed' }),
          send: (category, method, path, headers, body, expected) =>
            send({
              category,
              req: { method, path, headers, ...(body !== undefined ? { body } : {}) },
              expected,
            }),
        });
        hostileImages.push({ ids, images: outcome.images });
      }),
    );

    // Oversized bodies, a few of each: the limits hold without reading them whole.
    const oversized: FuzzCase[] = [];
    for (let i = 0; i < 3; i++) {
      oversized.push({
        category: 'register-oversized',
        req: {
          method: 'POST',
          path: '/v1/snapshots',
          headers: [
            ['authorization', `Bearer ${TOKEN}`],
            ['content-type', 'application/json'],
          ],
          body: JSON.stringify({ projectId: 'p', workItemId: 'w', image: 'x', pad: 'x'.repeat(70_000 + i) }),
        },
        expected: DOCUMENTED.tooLarge,
      });
      oversized.push({
        category: 'webhook-oversized',
        req: {
          method: 'POST',
          path: '/webhooks/github',
          headers: [
            ['content-type', 'application/json'],
            ['x-github-event', 'pull_request'],
            ['x-github-delivery', randomUUID()],
            // Well-formed, so the header preflight lets it through to the body limit (1 MiB).
            ['x-hub-signature-256', `sha256=${'0'.repeat(64)}`],
          ],
          body: Buffer.alloc(1024 * 1024 + 1 + i, 0x20),
        },
        expected: DOCUMENTED.tooLarge,
      });
    }
    const generated = fc.sample(fuzzCase(targets), {
      seed: SEED,
      numRuns: Math.max(0, TOTAL - oversized.length),
    });
    const cases = [...oversized, ...generated];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const c = cases[next++] as FuzzCase;
          if (c.registers) registered.add(c.registers);
          await send(c);
        }
      }),
    );
    await hostile;
    fuzzing = false;
    await healthLoop;

    const counts = Object.fromEntries([...byStatus.entries()].sort(([a], [b]) => a - b));
    console.log(
      `fuzz seed ${SEED}: ${sent} requests, by status ${JSON.stringify(counts)}; health checks ${JSON.stringify(health)}\n` +
        `  by category ${JSON.stringify(Object.fromEntries([...byCategory.entries()].sort()))}\n` +
        `  replay: FUZZ_SEED=${SEED} npx vitest run --project integration test/integration/fuzz-api.test.ts`,
    );
    if (failures.some((f) => f.status === 500)) {
      // The API logs the cause of every 500 (the answer itself says only "internal error").
      const causes = api
        .logs()
        .split('\n')
        .filter((l) => l.includes('"request failed"'))
        .slice(0, 3);
      console.log(`API errors behind the 500s:\n${causes.map((c) => c.slice(0, 1500)).join('\n')}`);
    }
    expect(failures.slice(0, 10), `seed ${SEED}: ${failures.length} answers broke the contract`).toEqual([]);
    // 503 is documented ("Temporal did not answer in time; retry"), but never the usual answer.
    expect(byStatus.get(503) ?? 0, 'answers 503').toBeLessThan(sent * 0.05);
    expect(sent).toBeGreaterThanOrEqual(TOTAL);
    expect(health.failed).toBe(0);
    expect(apiExit).toBeUndefined();
    expect((await sendRaw(baseUrl, { method: 'GET', path: '/readyz', headers: [] })).status).toBe(200);

    // Forged and refused requests changed no workflow: the sentinels hold the same image, as before.
    const sentinelAfter = await Promise.all(targets.sentinels.map(viewOf));
    for (const [i, before] of sentinelBefore.entries()) {
      const after = sentinelAfter[i];
      expect(after?.current, `sentinel ${i}`).toMatchObject({
        imageId: before.current?.imageId,
        state: 'active',
        expiresAt: before.current?.expiresAt,
        pullRequest: before.current?.pullRequest,
      });
      expect(after?.retiring).toEqual([]);
    }
    // No refused registration left a workflow behind.
    const sentinelIds = new Set(targets.sentinels.map((s) => snapshotWorkflowId(s.projectId, s.workItemId)));
    const candidates = [...registered].filter((id) => !sentinelIds.has(id));
    await waitFor(
      async () => {
        const open: string[] = [];
        for (const id of candidates) {
          const d = await worker.client.workflow
            .getHandle(id)
            .describe()
            .catch(() => undefined);
          if (d?.status.name === 'RUNNING') open.push(id);
        }
        return open.length === 0 || undefined;
      },
      {
        timeoutMs: 60_000,
        message: `refused registrations left workflows running (of ${candidates.length})`,
      },
    );

    // Unmanaged images and the sentinels' images are all still there, under the same names.
    for (const p of protectedImages) {
      expect(await imageExists(docker, p.id), `${p.ref} (${p.id})`).toBe(true);
      expect((await docker.getImage(p.ref).inspect()).Id).toBe(p.id);
    }

    // Whatever the order, a work item keeps at most its current image; everything else leaves.
    for (const { ids, images } of hostileImages) {
      await waitFor(
        async () => {
          const v = await viewOf(ids).catch(() => null);
          const keep = v?.current?.imageId;
          for (const id of images) {
            const exists = await imageExists(docker, id);
            if (id === keep ? !exists : exists) return false;
          }
          return true;
        },
        {
          timeoutMs: 90_000,
          message: `${ids.workItemId}: images other than the current one are still on disk`,
        },
      );
    }
  }, 600_000);
});
