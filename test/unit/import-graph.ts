// The relative-import graph of a source tree, type imports and re-exports included (a type-only
// cycle still ties two layers together), and its cycles. TypeScript's own pre-processor reads the
// imports, so nothing beyond the compiler the project already uses is needed.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** File (relative to the root) → the files of the same tree it imports. */
export type ImportGraph = Map<string, string[]>;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts)$/.test(d.name) && !d.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every `import`, `import type`, `export … from` and dynamic `import()` between files under root. */
export function importGraph(root: string): ImportGraph {
  const base = resolve(root);
  const graph: ImportGraph = new Map();
  for (const file of sourceFiles(base)) {
    // readImportFiles and detectJavaScriptImports: dynamic imports count as well.
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((i) => i.fileName)
      .filter((spec) => spec.startsWith('.'))
      // ESM sources name the compiled file (.js); the source beside it is .ts.
      .map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts')))
      .filter((target) => target.startsWith(base) && existsSync(target))
      .map((target) => relative(base, target));
    graph.set(relative(base, file), [...new Set(targets)].sort());
  }
  return graph;
}

/**
 * The strongly connected components with more than one file (or a file importing itself), each
 * sorted, in a stable order: every import cycle lies inside one of them. Tarjan's algorithm.
 */
export function importCycles(graph: ImportGraph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop();
      if (w === undefined) break;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}
