import { randomUUID } from 'node:crypto';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll } from 'vitest';
import type { InProcessWorker } from './in-process-worker.js';
import { startInProcessWorker } from './in-process-worker.js';
import { newDocker } from './test-env.js';

/** What a test file gets from `useFileWorker`: read `worker` and `docker` inside its tests. */
export interface FileWorker {
  /** The file's own Docker host id (its prefix and a random part), so queues never mix across files. */
  readonly hostId: string;
  readonly worker: InProcessWorker;
  /** A client of the shared private engine. */
  readonly docker: Dockerode;
}

/**
 * The real workers of one test file in its own process (startInProcessWorker), started before the
 * file's tests and stopped after them: the set-up most integration files repeated line for line.
 * Call it at the top level of the file.
 */
export function useFileWorker(hostPrefix: string): FileWorker {
  const hostId = `${hostPrefix}-${randomUUID().slice(0, 8)}`;
  let started: { worker: InProcessWorker; docker: Dockerode } | undefined;
  beforeAll(async () => {
    const docker = newDocker();
    started = { docker, worker: await startInProcessWorker({ hostId }) };
  });
  afterAll(async () => {
    await started?.worker.stop();
  });
  // A getter rather than a value: the file reads these before beforeAll has run (at the top level).
  const get = () => {
    if (!started) throw new Error(`the worker of host ${hostId} is used before its beforeAll ran`);
    return started;
  };
  return {
    hostId,
    get worker() {
      return get().worker;
    },
    get docker() {
      return get().docker;
    },
  };
}
