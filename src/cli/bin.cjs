#!/usr/bin/env node
// The `snapkeeper` bin (package.json). CommonJS on purpose: Node starts a CommonJS entry without
// setting up its ES module loader, which a fast `show` or `ls` would otherwise pay (bench B8,
// docs/cli.md). It runs, in this order:
//
// 1. With TEMPORAL_HTTP_ADDRESS set: the fast path, dist/src/cli/fast-path.cjs, one file bundled
//    from src/cli/fast-main.ts by `npm run build`. It answers `show` and `ls` over the frontend's
//    HTTP API before anything else is loaded, or hands over to the full CLI.
// 2. The full CLI: the compiled dist/src/cli/main.js when that build is at least as new as every
//    source under src/ (always, in an installed package: it has no sources), else the TypeScript
//    sources through tsx (a checkout's dev dependency), so an edit is never hidden by a stale
//    build. Compiled is what makes it answer at once: tsx alone costs about a second.
'use strict';
/* global require, __dirname, process */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file loads modules with require() */
const { existsSync, readFileSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const packageRoot = join(__dirname, '..', '..');
const source = join(__dirname, 'main.ts');
const compiled = join(packageRoot, 'dist', 'src', 'cli', 'main.js');
const fastPath = join(packageRoot, 'dist', 'src', 'cli', 'fast-path.cjs');
// esbuild's metafile of the bundle: its inputs, as paths from the package root.
const fastPathMeta = join(packageRoot, 'dist', 'src', 'cli', 'fast-path.meta.json');
// A checkout has the sources, which may be newer than the build; an installed package has none.
const checkout = existsSync(source);

/**
 * Whether the fast path's bundle may run: it exists and, in a checkout, none of the files it was
 * bundled from changed since (a stat each, about twenty, not a walk of src/).
 */
function fastPathIsFresh() {
  let built;
  try {
    built = statSync(fastPath).mtimeMs;
  } catch {
    return false;
  }
  if (!checkout) return true;
  try {
    const { inputs } = JSON.parse(readFileSync(fastPathMeta, 'utf8'));
    return Object.keys(inputs).every((file) => statSync(join(packageRoot, file)).mtimeMs <= built);
  } catch {
    // No metafile, or an input is gone: the sources moved on.
    return false;
  }
}

/** The newest modification time of the TypeScript sources under src/ (a few ms). */
function newestSource() {
  let newest = 0;
  const sourceRoot = join(__dirname, '..');
  for (const entry of readdirSync(sourceRoot, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const mtime = statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

async function runFullCli() {
  // `>=`: npm gives every file of an installed package the same time.
  const fresh = existsSync(compiled) && (!checkout || statSync(compiled).mtimeMs >= newestSource());
  if (fresh) {
    await import(pathToFileURL(compiled).href);
    return;
  }
  let tsx;
  if (checkout) {
    try {
      tsx = await import('tsx/esm/api');
    } catch {
      tsx = undefined;
    }
  }
  if (tsx) {
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
}

async function main() {
  if (process.env.TEMPORAL_HTTP_ADDRESS && fastPathIsFresh()) {
    const outcome = await require(fastPath).runFastPath(process.argv.slice(2), process.env, {
      stdout: process.stdout,
      stderr: process.stderr,
    });
    if (outcome.answered !== undefined) {
      process.exitCode = outcome.answered;
      return;
    }
    // The HTTP API was asked and the client must answer (why was said at debug level): an empty
    // TEMPORAL_HTTP_ADDRESS is unset, so the full CLI goes straight to the client.
    if (outcome.triedHttp) process.env.TEMPORAL_HTTP_ADDRESS = '';
  }
  await runFullCli();
}

main().catch((err) => {
  process.stderr.write(`snapkeeper: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
