// What counting true bytes costs a budget decision (docs/operations.md, "Unique bytes in the
// budget"): the budgetFacts activity of a host with a byte limit, without and with `trueBytesFor`
// (one `GET /images/json?all=1` and the tree walk), beside `docker system df` (what df's SharedSize
// would cost instead), on a private engine holding N managed commits (chains of 5, as jobs commit
// on the previous snapshot). Medians of RUNS, alternating; the result's size in bytes.
//   flock /tmp/snapkeeper-heavy.lock npx tsx scripts/measure-true-bytes-cost.ts [N] [RUNS]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { createBudgetHostActivities } from '../src/activities/budget-host-activities.js';
import { imageKey } from '../src/contract/budget-types.js';
import { LABEL_MANAGED } from '../src/contract/names.js';
import { createDockerPort } from '../src/docker/dockerode-adapter.js';
import { createLogger } from '../src/logging/logger.js';
import { ensureBaseImage } from './lib/base-image.js';
import { startDockerEngine } from './lib/docker-engine.js';

const N = Number(process.argv[2] ?? 300);
const RUNS = Number(process.argv[3] ?? 15);
const BASE = 'snapkeeper-measure/base:latest';

const dir = await mkdtemp(join(tmpdir(), 'snapkeeper-true-bytes-cost-'));
const engine = await startDockerEngine(dir);
try {
  await ensureBaseImage(engine.dockerHost, BASE);
  const docker = new Dockerode({ socketPath: engine.socketPath });
  const port = createDockerPort(docker);
  const ids: string[] = [];
  let from = BASE;
  for (let i = 0; i < N; i++) {
    if (i % 5 === 0) from = BASE;
    const c = await docker.createContainer({
      Image: from,
      Cmd: ['sh', '-c', `dd if=/dev/urandom of=/payload-${i} bs=16k count=1 2>/dev/null`],
      HostConfig: { NetworkMode: 'none' },
    });
    await c.start();
    await c.wait();
    const tag = `c${i}`;
    await c.commit({ repo: 'snapkeeper-measure/commit', tag, changes: [`LABEL ${LABEL_MANAGED}=true`] });
    await c.remove();
    from = `snapkeeper-measure/commit:${tag}`;
    const info = await port.inspectImage(from);
    if (!info) throw new Error(`${from} vanished`);
    ids.push(info.id);
  }
  const acts = createBudgetHostActivities({
    docker: port,
    log: createLogger({ level: 'silent' }),
    budget: { maxBytes: 1e12, diskHighPercent: 85, diskLowPercent: 80 },
  });
  const input = { host: 'h', projectIds: [], pendingImageIds: [], uniqueFor: [] };
  const keys = ids.map(imageKey);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const times = {
    list: [] as number[],
    df: [] as number[],
    plain: [] as number[],
    trueBytes: [] as number[],
  };
  let resultBytes = 0;
  let plainBytes = 0;
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    await port.listImages({ all: true });
    times.list.push(performance.now() - t);
    t = performance.now();
    await docker.df();
    times.df.push(performance.now() - t);
    t = performance.now();
    const plain = await acts.budgetFacts(input);
    times.plain.push(performance.now() - t);
    t = performance.now();
    const withTrue = await acts.budgetFacts({ ...input, trueBytesFor: keys });
    times.trueBytes.push(performance.now() - t);
    resultBytes = JSON.stringify(withTrue).length;
    plainBytes = JSON.stringify(plain).length;
    if ((withTrue.trueBytes ?? []).length === 0) throw new Error('no true bytes measured');
  }
  const m = {
    images: N,
    runs: RUNS,
    medianMs: {
      listImagesAll: +median(times.list).toFixed(1),
      systemDf: +median(times.df).toFixed(1),
      budgetFacts: +median(times.plain).toFixed(1),
      budgetFactsWithTrueBytes: +median(times.trueBytes).toFixed(1),
    },
    ratioWithTrueBytes: +(median(times.trueBytes) / median(times.plain)).toFixed(2),
    resultBytes: { budgetFacts: plainBytes, budgetFactsWithTrueBytes: resultBytes },
    inputBytes: JSON.stringify({ ...input, trueBytesFor: keys }).length,
  };
  process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
} finally {
  await engine.stop();
  await rm(dir, { recursive: true, force: true });
}
