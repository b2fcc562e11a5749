// What measuring the bytes a removal freed costs (docs/operations.md, "What a removal freed"): a raw
// untag-and-delete of a fresh commit against the same removal wrapped in the freed-bytes meter (two
// `docker system df` calls), alternating, on a private engine of its own, first with the engine
// nearly empty and then with EXTRA more images on it (df computes over every image). Medians.
//   flock /tmp/snapkeeper-heavy.lock npx tsx scripts/measure-removal-cost.ts [RUNS] [EXTRA]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { createDockerPort } from '../src/docker/dockerode-adapter.js';
import { createFreedBytesMeter } from '../src/docker/freed-bytes.js';
import { ensureBaseImage } from './lib/base-image.js';
import { startDockerEngine } from './lib/docker-engine.js';

const RUNS = Number(process.argv[2] ?? 15);
const EXTRA = Number(process.argv[3] ?? 200);
const BASE = 'snapkeeper-measure/base:latest';

const dir = await mkdtemp(join(tmpdir(), 'snapkeeper-removal-cost-'));
const engine = await startDockerEngine(dir);
try {
  await ensureBaseImage(engine.dockerHost, BASE);
  const docker = new Dockerode({ socketPath: engine.socketPath });
  const port = createDockerPort(docker);
  const meter = createFreedBytesMeter(port, (err) => {
    throw err;
  });
  let made = 0;
  /** A commit of 256 KiB of its own, as a snapshot is. */
  const commit = async (): Promise<string> => {
    const c = await docker.createContainer({
      Image: BASE,
      Cmd: ['sh', '-c', 'dd if=/dev/urandom of=/payload bs=64k count=4 2>/dev/null'],
      HostConfig: { NetworkMode: 'none' },
    });
    await c.start();
    await c.wait();
    const tag = `c${made++}`;
    await c.commit({ repo: 'snapkeeper-measure/commit', tag });
    await c.remove();
    return `snapkeeper-measure/commit:${tag}`;
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const round = async (label: string) => {
    const raw: number[] = [];
    const measured: number[] = [];
    const df: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const a = await commit();
      const b = await commit();
      const info = await port.inspectImage(b);
      if (!info) throw new Error(`${b} vanished`);
      let t = performance.now();
      await port.removeImage(a);
      raw.push(performance.now() - t);
      t = performance.now();
      const r = await meter.measure(
        () => port.removeImage(b),
        () => info,
      );
      measured.push(performance.now() - t);
      if (r.freed?.measure !== 'measured')
        throw new Error(`removal of ${b} not measured: ${JSON.stringify(r)}`);
      t = performance.now();
      await port.layerUsage?.();
      df.push(performance.now() - t);
    }
    const images = (await docker.listImages()).length;
    const ratio = median(measured) / median(raw);
    process.stdout.write(
      `${label} (${images} images): raw removal ${median(raw).toFixed(1)} ms, measured ${median(measured).toFixed(1)} ms ` +
        `(${ratio.toFixed(2)}x), one df ${median(df).toFixed(1)} ms; medians of ${RUNS}\n`,
    );
  };
  await round('nearly empty engine');
  for (let i = 0; i < EXTRA; i++) await commit();
  await round(`with ${EXTRA} more images`);
} finally {
  await engine.stop();
  await rm(dir, { recursive: true, force: true });
}
