// `snapkeeper --help` and `--version` answer without loading the configuration schema or the
// Temporal client (about a second of module loading; bench B8 measures the result). What the CLI
// loads before a command runs is program.ts's static import graph: this test walks it and refuses
// any heavy package or layer in it. Commands, the runtime and the service are imported by the
// actions (dynamic `import()`), which the walk does not follow, as Node does not before they run.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { runCli } from '../../src/cli/program.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** Static, value-level imports of a module (type-only imports are erased by the compiler). */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  const pattern = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(pattern)) found.push(m[1] as string);
  return found;
}

/** Every module program.ts loads before parsing: relative files (as paths) and packages (by name). */
function startupGraph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files: [...files].map((f) => f.slice(ROOT.length + 1)), packages: [...packages] };
}

function capture() {
  const chunks: string[] = [];
  return { write: (c: string) => chunks.push(c) > 0, text: () => chunks.join('') };
}

describe('the CLI loads only what a command needs', () => {
  it('program.ts (what --help and --version run) loads commander and dependency-free modules only', () => {
    const { files, packages } = startupGraph(join(ROOT, 'src/cli/program.ts'));
    expect(packages.filter((p) => !p.startsWith('node:'))).toEqual(['commander']);
    expect(files.filter((f) => /src\/(service|temporal|worker|activities|workflows)\//.test(f))).toEqual([]);
    expect(files).not.toContain('src/cli/runtime.ts');
    expect(files).not.toContain('src/config/config.ts');
    expect(files.filter((f) => f.startsWith('src/cli/commands/'))).toEqual([]);
  });

  it('the walk sees a heavy import when there is one (the check can fail)', () => {
    const { packages, files } = startupGraph(join(ROOT, 'src/cli/runtime.ts'));
    expect(packages).toContain('@temporalio/client');
    expect(files).toContain('src/config/config.ts');
  });

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const stdout = capture();
    const stderr = capture();
    expect(await runCli(['--version'], { stdout, stderr })).toBe(ExitCode.ok);
    expect(stdout.text().trim()).toBe(version);
    expect(stderr.text()).toBe('');
  });
});
