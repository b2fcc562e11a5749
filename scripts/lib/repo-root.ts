import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Scripts and tests run from any working directory; paths are resolved against the checkout. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function repoPath(...parts: string[]): string {
  return resolve(REPO_ROOT, ...parts);
}
