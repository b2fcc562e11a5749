// `snapkeeper --version`: the version in the package's own package.json, read with node:fs so the
// answer loads nothing else. The file sits two levels above src/cli/ in a checkout and three above
// dist/src/cli/ in a build, so it is found by walking up to the package named snapkeeper.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'snapkeeper' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json here (or not readable): keep walking up.
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}
