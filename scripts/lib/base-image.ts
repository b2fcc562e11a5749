import { repoPath } from './repo-root.js';
import { runScript } from './run-script.js';

/**
 * The busybox-static base image (scripts/make-base-image.sh), made when missing. Resolves with the
 * image ID.
 */
export async function ensureBaseImage(dockerHost: string, name: string): Promise<string> {
  const output = await runScript(repoPath('scripts', 'make-base-image.sh'), [dockerHost, name], {
    passStderr: true,
  });
  const id = output.split('\n').pop()?.trim();
  if (!id?.startsWith('sha256:')) throw new Error(`make-base-image.sh printed no image ID (got: ${output})`);
  return id;
}
