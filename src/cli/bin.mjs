#!/usr/bin/env node
// The `snapkeeper` bin. It runs the compiled CLI (dist/src/cli/main.js, made by `npm run build`)
// whenever that build is at least as new as every source file under src/: in an installed package
// (no tsx there) and in a checkout that was built. In a checkout without a build, or whose sources
// changed since, it runs the TypeScript sources through tsx (a dev dependency), so an edit is never
// hidden by a stale build. Compiled is what makes it answer at once: tsx alone costs about a second.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sourceRoot = join(here, '..');
const source = join(here, 'main.ts');
const compiled = join(here, '..', '..', 'dist', 'src', 'cli', 'main.js');

/** The newest modification time of the TypeScript sources (a few ms for src/'s files). */
function newestSource() {
  let newest = 0;
  for (const entry of readdirSync(sourceRoot, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const mtime = statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

// `>=`: npm gives every file of an installed package the same time.
const fresh = existsSync(compiled) && (!existsSync(source) || statSync(compiled).mtimeMs >= newestSource());

let tsx;
if (!fresh && existsSync(source)) {
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    tsx = undefined;
  }
}
if (fresh) {
  await import(pathToFileURL(compiled).href);
} else if (tsx) {
  tsx.register();
  await import(pathToFileURL(source).href);
} else if (existsSync(compiled)) {
  // Sources newer than the build but no tsx to run them: the build is all there is.
  process.stderr.write('snapkeeper: note: dist/ is older than src/ (npm run build)\n');
  await import(pathToFileURL(compiled).href);
} else {
  process.stderr.write(
    'snapkeeper: neither dist/ (npm run build) nor tsx (to run src/cli/main.ts) is there\n',
  );
  process.exitCode = 2;
}
