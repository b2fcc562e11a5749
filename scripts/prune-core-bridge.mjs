// Keeps only the Temporal core bridge binary this platform loads: the package ships prebuilt
// binaries for five platforms (about 27 MB each), and an image runs on one. Run in the image's
// build stage after `npm prune --omit=dev`; fails if this platform's own binary is missing.
//   node scripts/prune-core-bridge.mjs APP_DIR     (the directory holding node_modules)
// The directory is required, so that a stray run in a checkout does not strip its node_modules.
import { readdirSync, rmSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';

const appDir = process.argv[2];
if (!appDir) {
  process.stderr.write('usage: node scripts/prune-core-bridge.mjs APP_DIR\n');
  process.exit(2);
}
const require = createRequire(join(appDir, 'package.json'));
const common = require.resolve('@temporalio/core-bridge/common.js');
const { getPrebuiltTargetName } = require(common);
const releases = join(dirname(common), 'releases');
const keep = getPrebuiltTargetName();
if (!existsSync(join(releases, keep, 'index.node'))) {
  throw new Error(`no core bridge binary for this platform (${keep}) in ${releases}`);
}
const removed = readdirSync(releases).filter((target) => target !== keep);
for (const target of removed) rmSync(join(releases, target), { recursive: true, force: true });
process.stdout.write(`core bridge: kept ${keep}, removed ${removed.join(', ') || 'nothing'}\n`);
