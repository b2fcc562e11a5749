#!/usr/bin/env node
// The `snapkeeper` bin. In a checkout it runs the TypeScript sources through tsx (a dev
// dependency), so no build is needed and the sources are never stale; in an installed package,
// where tsx is absent, it runs the compiled dist/ that `npm run build` makes.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'main.ts');
const compiled = join(here, '..', '..', 'dist', 'src', 'cli', 'main.js');

let tsx;
try {
  tsx = await import('tsx/esm/api');
} catch {
  tsx = undefined;
}
if (tsx && existsSync(source)) {
  tsx.register();
  await import(pathToFileURL(source).href);
} else if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  process.stderr.write(
    'snapkeeper: neither tsx (to run src/cli/main.ts) nor dist/ (npm run build) is there\n',
  );
  process.exitCode = 2;
}
