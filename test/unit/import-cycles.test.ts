// No import cycle in src/, type imports included: a cycle, even of types only, means two modules
// cannot be read, moved or bundled one without the other (issue 20 removed the last one,
// activities → service → workflows → activities).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importCycles, importGraph } from './import-graph.js';

/**
 * Cycles known and accepted for now, each named with the reason it may stay. Empty: add one only
 * with the issue that removes it.
 */
const ALLOWED_CYCLES: string[][] = [];

const scratch = mkdtempSync(join(tmpdir(), 'import-cycles-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const root = join(scratch, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('import cycles', () => {
  it('src/ has none, type imports included', () => {
    const cycles = importCycles(importGraph('src'));
    expect(cycles).toEqual(ALLOWED_CYCLES);
  });

  it('sees the whole of src/ (the graph is not empty by mistake)', () => {
    const graph = importGraph('src');
    expect(graph.get('workflows/budget/workflow.ts')).toContain('workflows/budget/host-budget.ts');
    expect(graph.get('service/budget-workflow-start.ts')).toContain('contract/budget-workflow-input.ts');
    expect(graph.size).toBeGreaterThan(100);
  });

  it('finds a cycle made of type imports and re-exports only', () => {
    const root = tree('types-only', {
      'a/one.ts': "import type { Two } from '../b/two.js';\nexport type One = Two;\n",
      'b/two.ts': "export type { Three as Two } from './three.js';\n",
      'b/three.ts': "import type { One } from '../a/one.js';\nexport type Three = One | string;\n",
      'c/free.ts': "import type { One } from '../a/one.js';\nexport type Free = One;\n",
    });
    expect(importCycles(importGraph(root))).toEqual([['a/one.ts', 'b/three.ts', 'b/two.ts']]);
  });

  it('finds a dynamic import closing a cycle, and a file importing itself', () => {
    const root = tree('dynamic', {
      'x.ts': "export const load = () => import('./y.js');\n",
      'y.ts': "import { load } from './x.js';\nexport const again = load;\n",
      'self.ts': "import * as me from './self.js';\nexport const name = 'self';\nexport const all = me;\n",
    });
    expect(importCycles(importGraph(root))).toEqual([['self.ts'], ['x.ts', 'y.ts']]);
  });
});
