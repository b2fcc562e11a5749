// A whole snapkeeper on this machine for a measuring or recording script: a private Docker engine
// with a base image, a Temporal dev server on a SQLite file, the real workers in this process and
// a client. `stop` takes it all down again and removes the work directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type Dockerode from 'dockerode';
import { loadConfig } from '../../src/config/config.js';
import { createDockerPort, createDockerode } from '../../src/docker/dockerode-adapter.js';
import { createLogger } from '../../src/logging/logger.js';
import { createWorkers } from '../../src/worker/create-workers.js';
import { ensureBaseImage } from './base-image.js';
import { startDockerEngine } from './docker-engine.js';
import { ensureTemporal } from './ensure-temporal.js';
import { startDevServer } from './temporal-dev-server.js';

export interface LocalSystem {
  docker: Dockerode;
  base: string;
  client: Client;
  stop(): Promise<void>;
}

export async function startLocalSystem(options: {
  name: string;
  hostId: string;
  env?: Record<string, string>;
}): Promise<LocalSystem> {
  const dir = await mkdtemp(join(tmpdir(), `snapkeeper-${options.name}-`));
  const engine = await startDockerEngine(join(dir, 'engine'));
  const { temporalCliPath } = await ensureTemporal();
  const server = await startDevServer({
    cliPath: temporalCliPath,
    dbFile: join(dir, 't.sqlite'),
    headless: true,
  });
  const base = `snapkeeper-${options.name}/base:latest`;
  await ensureBaseImage(engine.dockerHost, base);
  const docker = createDockerode(engine.dockerHost);
  const config = loadConfig({
    TEMPORAL_ADDRESS: server.address,
    DOCKER_HOST: engine.dockerHost,
    SNAPKEEPER_HOST_ID: options.hostId,
    SNAPKEEPER_LOG_LEVEL: 'warn',
    ...options.env,
  });
  const native = await NativeConnection.connect({ address: server.address });
  const workers = await createWorkers({
    config,
    connection: native,
    docker: createDockerPort(docker),
    log: createLogger({ level: 'warn' }),
  });
  const running = Promise.all(workers.map((w) => w.run()));
  const connection = await Connection.connect({ address: server.address });
  return {
    docker,
    base,
    client: new Client({ connection }),
    async stop() {
      for (const w of workers) w.shutdown();
      await running;
      await native.close();
      await connection.close();
      await server.stop();
      await engine.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
