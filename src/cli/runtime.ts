// What every command needs: the validated configuration (with --address / --namespace applied), one
// lazily opened Temporal session, and the output streams. program.ts imports this module only when a
// command runs: it loads the configuration schema and the Temporal client.
import type { Config } from '../config/config.js';
import { loadConfig } from '../config/config.js';
import type { SnapshotService } from '../service/snapshot-service.js';
import { createSnapshotService } from '../service/snapshot-service.js';
import { UsageError } from './cli-errors.js';
import type { TemporalSession } from './connect.js';
import { connectTemporal } from './connect.js';

export { UsageError };

export interface GlobalOptions {
  address?: string;
  namespace?: string;
}

export interface OutputStream {
  isTTY?: boolean;
  write(chunk: string): boolean;
}

export interface Runtime {
  config(): Config;
  /** Environment overrides from the global options, for commands that load config themselves. */
  env(): NodeJS.ProcessEnv;
  session(): Promise<TemporalSession>;
  service(): Promise<SnapshotService>;
  stdout: OutputStream;
  stderr: OutputStream;
  close(): Promise<void>;
}

export function createRuntime(
  globals: () => GlobalOptions,
  streams: { stdout: OutputStream; stderr: OutputStream } = {
    stdout: process.stdout,
    stderr: process.stderr,
  },
): Runtime {
  let config: Config | undefined;
  let session: Promise<TemporalSession> | undefined;
  const env = (): NodeJS.ProcessEnv => {
    const g = globals();
    return {
      ...process.env,
      ...(g.address ? { TEMPORAL_ADDRESS: g.address } : {}),
      ...(g.namespace ? { TEMPORAL_NAMESPACE: g.namespace } : {}),
    };
  };
  const runtime: Runtime = {
    env,
    config() {
      if (!config) {
        try {
          config = loadConfig(env());
        } catch (err) {
          throw new UsageError(err instanceof Error ? err.message : String(err));
        }
      }
      return config;
    },
    session() {
      session ??= connectTemporal(runtime.config());
      return session;
    },
    async service() {
      const { client } = await runtime.session();
      return createSnapshotService({ client, defaultTtlSeconds: runtime.config().defaultTtlSeconds });
    },
    ...streams,
    async close() {
      if (!session) return;
      const s = await session.catch(() => undefined);
      await s?.close();
    },
  };
  return runtime;
}

// Kept here for the commands that import it from the runtime; the fast path imports write-json.ts.
export { writeJson } from './write-json.js';
