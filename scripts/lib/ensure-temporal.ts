import { basename, dirname, join } from 'node:path';
import { repoPath } from './repo-root.js';
import { runScript } from './run-script.js';

export interface TemporalBinaries {
  temporalCliPath: string;
  /** Optional: the Go module proxy may refuse to serve tctl, and nothing depends on it. */
  tctlPath: string | null;
}

/** Builds the pinned Temporal CLI and tctl once (minutes), then answers from the cache. */
export async function ensureTemporal(): Promise<TemporalBinaries> {
  // stderr passes through: a first build takes minutes and should show that it is working.
  const output = await runScript(repoPath('scripts', 'ensure-temporal.sh'), ['all'], { passStderr: true });
  const paths = output
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const temporalCliPath = paths.find((p) => basename(p) === 'temporal');
  if (!temporalCliPath) throw new Error(`ensure-temporal.sh printed no temporal binary (got: ${output})`);
  return { temporalCliPath, tctlPath: paths.find((p) => basename(p) === 'tctl') ?? null };
}

export interface TemporalServerBinaries {
  serverPath: string;
  sqlToolPath: string;
  /** The server module's `config/` (Temporal's config templates) and `schema/` directories. */
  configDir: string;
  schemaDir: string;
}

/** Builds the pinned Temporal server and its SQL tool once (minutes), then answers from the cache. */
export async function ensureTemporalServer(): Promise<TemporalServerBinaries> {
  const output = await runScript(repoPath('scripts', 'ensure-temporal.sh'), ['server'], { passStderr: true });
  const paths = output
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const serverPath = paths.find((p) => basename(p) === 'temporal-server');
  const sqlToolPath = paths.find((p) => basename(p) === 'temporal-sql-tool');
  if (!serverPath || !sqlToolPath)
    throw new Error(`ensure-temporal.sh server printed no server binaries (got: ${output})`);
  const dir = dirname(serverPath);
  return { serverPath, sqlToolPath, configDir: join(dir, 'config'), schemaDir: join(dir, 'schema') };
}
