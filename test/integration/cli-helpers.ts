// Runs the `snapkeeper` CLI as operators do: a child process through its bin, against the test
// run's Temporal dev server, with nothing of the developer's shell configuration leaking in.
import { execFile } from 'node:child_process';
import { repoPath } from '../../scripts/lib/repo-root.js';
import { testEnv } from '../support/test-env.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const CONFIG_PREFIXES = ['DOCKER_', 'TEMPORAL_', 'SNAPKEEPER_', 'GITHUB_'];

export function runCliProcess(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !CONFIG_PREFIXES.some((p) => key.startsWith(p))),
  );
  const env = { ...inherited, TEMPORAL_ADDRESS: testEnv().temporalAddress, ...options.env };
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [repoPath('src', 'cli', 'bin.cjs'), ...args],
      { env, cwd: repoPath(), timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`snapkeeper ${args.join(' ')} did not run: ${error.message}\n${stderr}`));
          return;
        }
        const code = typeof error?.code === 'number' ? error.code : 0;
        // For docs and debugging: what an operator would have seen.
        if (process.env.SNAPKEEPER_TEST_ECHO_CLI)
          process.stderr.write(`$ snapkeeper ${args.join(' ')}  # exit ${code}\n${stdout}${stderr}\n`);
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs the CLI and parses stdout as JSON; fails with the output when the exit code differs. */
export async function runCliJson<T>(
  args: string[],
  expectedCode = 0,
  env?: Record<string, string>,
): Promise<T> {
  const result = await runCliProcess([...args, '--json'], env ? { env } : {});
  if (result.code !== expectedCode)
    throw new Error(
      `snapkeeper ${args.join(' ')} exited ${result.code} (expected ${expectedCode})\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  return JSON.parse(result.stdout) as T;
}
