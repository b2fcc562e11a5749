import { resolve } from 'node:path';
import { repoPath } from './repo-root.js';
import { runScript } from './run-script.js';

export interface DockerEngine {
  readonly dir: string;
  readonly socketPath: string;
  /** `unix://…`, as DOCKER_HOST wants it. */
  readonly dockerHost: string;
  stop(): Promise<void>;
}

export interface StartDockerEngineOptions {
  /**
   * The engine stops itself once this process is gone, so a run killed with SIGKILL does not
   * leave a dockerd behind. Defaults to the current process.
   */
  ownerPid?: number | null;
  startTimeoutSeconds?: number;
}

const SCRIPT = repoPath('scripts', 'docker-engine.sh');
const PODMAN_SCRIPT = repoPath('scripts', 'lib', 'podman-engine.sh');

export type TestEngineKind = 'docker' | 'podman';

/**
 * Which kind of engine the starter runs: SNAPKEEPER_TEST_ENGINE=podman runs `podman system
 * service` (scripts/lib/podman-engine.sh: rootful, vfs, its own storage and socket) in place of a
 * dockerd, so the same tests run against Podman's Docker-compatible API.
 */
export function testEngineKind(env: NodeJS.ProcessEnv = process.env): TestEngineKind {
  const kind = env.SNAPKEEPER_TEST_ENGINE ?? 'docker';
  if (kind === 'docker' || kind === 'podman') return kind;
  throw new Error(`SNAPKEEPER_TEST_ENGINE must be docker or podman, got ${kind}`);
}

/**
 * A private dockerd (own socket, data root, exec root; no bridge, no iptables) via
 * scripts/docker-engine.sh; with SNAPKEEPER_TEST_ENGINE=podman, a private Podman service instead.
 */
export async function startDockerEngine(
  dir: string,
  options: StartDockerEngineOptions = {},
): Promise<DockerEngine> {
  const engineDir = resolve(dir);
  const ownerPid = options.ownerPid === undefined ? process.pid : options.ownerPid;
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (ownerPid !== null) env.DOCKER_ENGINE_OWNER_PID = String(ownerPid);
  if (options.startTimeoutSeconds !== undefined)
    env.DOCKER_ENGINE_START_TIMEOUT = String(options.startTimeoutSeconds);
  const script = testEngineKind() === 'podman' ? PODMAN_SCRIPT : SCRIPT;
  const socketPath = lastLine(await runScript(script, ['start', engineDir], { env }));
  let stopped = false;
  return {
    dir: engineDir,
    socketPath,
    dockerHost: `unix://${socketPath}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await runScript(script, ['stop', engineDir]);
    },
  };
}

function lastLine(output: string): string {
  const line = output.split('\n').pop()?.trim();
  if (!line) throw new Error('the engine script printed no socket path');
  return line;
}
