// The Grafana dashboard queries only metrics snapkeeper exports, and shows every metric of its own:
// a renamed metric breaks this test, not a panel nobody looks at until an incident.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../scripts/lib/repo-root.js';
import { createApiMetrics } from '../../src/api/metrics.js';
import { createWorkerMetrics } from '../../src/worker/worker-metrics.js';

interface Target {
  expr?: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ query?: { query?: string } | string; definition?: string }> };
}

const dashboard = JSON.parse(
  readFileSync(repoPath('deploy', 'grafana', 'snapkeeper-dashboard.json'), 'utf8'),
) as Dashboard;

function expressions(): string[] {
  const exprs: string[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) exprs.push(t.expr);
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q) exprs.push(q);
  }
  return exprs;
}

// Metric names in PromQL: identifiers of the exported families, never functions or labels.
const METRIC = /\b(?:snapkeeper|process|nodejs)_[a-z0-9_]+\b/g;
const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

async function exported(): Promise<{ names: Set<string>; histograms: Set<string>; own: Set<string> }> {
  const registries = [
    createApiMetrics({ defaultMetrics: true }).registry,
    createWorkerMetrics({ defaultMetrics: true }).registry,
  ];
  const names = new Set<string>();
  const histograms = new Set<string>();
  const own = new Set<string>();
  for (const registry of registries) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') histograms.add(m.name);
      if (m.name.startsWith('snapkeeper_') && !m.name.startsWith('snapkeeper_worker_')) own.add(m.name);
    }
  }
  return { names, histograms, own };
}

describe('deploy/grafana/snapkeeper-dashboard.json', () => {
  it('queries only metrics that the API or the worker registry exports', async () => {
    const { names, histograms } = await exported();
    const queried = new Set(expressions().flatMap((e) => e.match(METRIC) ?? []));
    expect(queried.size).toBeGreaterThan(10);
    const unknown = [...queried].filter((name) => {
      if (names.has(name)) return false;
      const base = name.replace(HISTOGRAM_SERIES, '');
      return !(base !== name && histograms.has(base));
    });
    expect(unknown).toEqual([]);
  });

  it("shows every metric of snapkeeper's own", async () => {
    const { own, histograms } = await exported();
    const text = expressions().join('\n');
    const missing = [...own].filter((name) =>
      histograms.has(name) ? !text.includes(`${name}_bucket`) : !new RegExp(`\\b${name}\\b`).test(text),
    );
    expect(missing).toEqual([]);
  });

  it('is an importable dashboard: a Prometheus data source input, unique panel ids, a host variable', () => {
    const raw = dashboard as unknown as {
      __inputs: Array<{ name: string; pluginId: string }>;
      uid: string;
      panels: Array<{ id: number }>;
    };
    expect(raw.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' }),
    ]);
    expect(raw.uid).toBe('snapkeeper');
    const ids = raw.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.map((v) => (v as { name?: string }).name)).toContain('host');
  });
});
