import { spawn } from 'node:child_process';

export interface RunScriptOptions {
  env?: NodeJS.ProcessEnv;
  /** Long builds report progress on stderr; pass it through instead of buffering it. */
  passStderr?: boolean;
}

/** Runs a bash script of this repository and resolves with its stdout, trimmed. */
export async function runScript(
  scriptPath: string,
  args: readonly string[],
  options: RunScriptOptions = {},
): Promise<string> {
  const child = spawn('bash', [scriptPath, ...args], {
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', options.passStderr ? 'inherit' : 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolveCode, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolveCode(exitCode));
  });
  if (code !== 0) {
    const detail = stderr.trim().split('\n').slice(-30).join('\n');
    throw new Error(`${scriptPath} ${args.join(' ')} exited with ${code}${detail ? `:\n${detail}` : ''}`);
  }
  return stdout.trim();
}
