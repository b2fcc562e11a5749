// Prometheus metrics of a worker process: what the reconciler found and did on this worker's host,
// and what the budget decided there. The Docker worker of a host records them (its activities run
// the reconcile report and budget recording steps), and serves them on /metrics.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { UpkeepMetrics } from '../activities/upkeep-metrics.js';
import type { ReconcileReport } from '../contract/reconcile-types.js';

/**
 * What a finished reconcile run of a host sets (gauges: the state it found) or adds (counters: what
 * it did), labelled with the host and whether it was a dry run. A failed run records none of them.
 */
const RECONCILE_RUN_METRICS: ReadonlyArray<{
  kind: 'gauge' | 'counter';
  name: string;
  help: string;
  value: (report: ReconcileReport) => number;
}> = [
  {
    kind: 'gauge',
    name: 'snapkeeper_reconcile_managed_images',
    help: 'Managed images on the host at the last reconcile run',
    value: (r) => r.managedImages,
  },
  {
    kind: 'gauge',
    name: 'snapkeeper_reconcile_owned_images',
    help: 'Managed images an open snapshot workflow held at the last reconcile run',
    value: (r) => r.owned,
  },
  {
    kind: 'gauge',
    name: 'snapkeeper_reconcile_orphans_kept_young',
    help: 'Unowned managed images younger than the grace period at the last reconcile run',
    value: (r) => r.counts.orphansKeptYoung,
  },
  {
    kind: 'gauge',
    name: 'snapkeeper_reconcile_blocked_images',
    help: 'Orphans the engine refused to remove (in use, or held by child images) at the last run',
    value: (r) => r.counts.blocked,
  },
  {
    kind: 'counter',
    name: 'snapkeeper_reconcile_orphans_removed_total',
    help: 'Orphaned managed images removed by the reconciler (dry runs: that would have been)',
    value: (r) => r.counts.orphansRemoved,
  },
  {
    kind: 'counter',
    name: 'snapkeeper_reconcile_orphan_bytes_removed_total',
    help: 'Size of the orphaned images removed by the reconciler',
    value: (r) => r.counts.orphanBytesRemoved,
  },
  {
    kind: 'counter',
    name: 'snapkeeper_reconcile_vanished_total',
    help: 'Snapshot workflows whose image vanished from the engine, ended by the reconciler',
    value: (r) => r.counts.vanished,
  },
];

export function createWorkerMetrics(options: { defaultMetrics?: boolean } = {}): UpkeepMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'snapkeeper_worker_' });
  const labelNames = ['host', 'dry_run'] as const;
  const runs = new Counter({
    name: 'snapkeeper_reconcile_runs_total',
    help: 'Reconcile runs of a host (failed ones have result="error")',
    labelNames: ['host', 'dry_run', 'result'] as const,
    registers: [registry],
  });
  const lastRun = new Gauge({
    name: 'snapkeeper_reconcile_last_run_timestamp_seconds',
    help: 'When the last reconcile run of a host finished',
    labelNames,
    registers: [registry],
  });
  const perRun = RECONCILE_RUN_METRICS.map((m) => {
    const options = { name: m.name, help: m.help, labelNames, registers: [registry] };
    return { value: m.value, metric: m.kind === 'gauge' ? new Gauge(options) : new Counter(options) };
  });
  const evictions = new Counter({
    name: 'snapkeeper_budget_evictions_total',
    help: 'Snapshots evicted by the budget of a host, by the limit that was crossed',
    labelNames: ['host', 'limit'] as const,
    registers: [registry],
  });
  const snapshots = new Gauge({
    name: 'snapkeeper_budget_snapshots',
    help: 'Snapshots the budget of a host counts after its last decision',
    labelNames: ['host'] as const,
    registers: [registry],
  });
  const bytes = new Gauge({
    name: 'snapkeeper_budget_bytes',
    help: 'Bytes of snapshots the budget of a host counts after its last decision',
    labelNames: ['host'] as const,
    registers: [registry],
  });
  const freedBytes = new Counter({
    name: 'snapkeeper_removal_freed_bytes_total',
    help: "Bytes snapshot removals freed on the engine's disk (docker system df before and after; measure=estimated when other image changes overlapped)",
    labelNames: ['host', 'measure'] as const,
    registers: [registry],
  });
  const measuredRemovals = new Counter({
    name: 'snapkeeper_removals_measured_total',
    help: 'Snapshot removals whose freed bytes were recorded, by how (measured or estimated)',
    labelNames: ['host', 'measure'] as const,
    registers: [registry],
  });
  const containerUses = new Counter({
    name: 'snapkeeper_container_uses_total',
    help: "Container create/start events of a host's engine, by what became of them (signalled: a use recorded in the snapshot's workflow)",
    labelNames: ['host', 'outcome'] as const,
    registers: [registry],
  });
  const eventReconnects = new Counter({
    name: 'snapkeeper_engine_event_stream_reconnects_total',
    help: "Times the Docker worker lost its engine's event stream (engine restarts) and connected again",
    labelNames: ['host'] as const,
    registers: [registry],
  });
  const shortfall = new Gauge({
    name: 'snapkeeper_budget_disk_pressure_unrelieved',
    help: "1 while the last recorded budget decision of a host left its disk over the watermarks with nothing left to evict (the kubelet's FreeDiskSpaceFailed), else 0",
    labelNames: ['host'] as const,
    registers: [registry],
  });
  const shortfalls = new Counter({
    name: 'snapkeeper_budget_free_disk_space_failed_total',
    help: 'Budget decisions of a host that could not bring its disk below the low watermark: nothing left to evict',
    labelNames: ['host'] as const,
    registers: [registry],
  });
  const disk = new Gauge({
    name: 'snapkeeper_disk_used_percent',
    help: "Use of the filesystem that holds the Docker engine's data root",
    labelNames: ['host'] as const,
    registers: [registry],
  });

  return {
    registry,
    recordReconcile(report) {
      const labels = { host: report.host, dry_run: String(report.dryRun) };
      runs.inc({ ...labels, result: report.error ? 'error' : 'ok' });
      lastRun.set(labels, Date.parse(report.finishedAt) / 1000);
      if (report.error) return;
      for (const { metric, value } of perRun) {
        if (metric instanceof Gauge) metric.set(labels, value(report));
        else metric.inc(labels, value(report));
      }
    },
    recordBudget(host, decision) {
      for (const e of decision.evicted) evictions.inc({ host, limit: e.limit });
      snapshots.set({ host }, decision.usage.snapshots);
      bytes.set({ host }, decision.usage.bytes);
      if (decision.usage.diskUsedPercent !== null) disk.set({ host }, decision.usage.diskUsedPercent);
      shortfall.set({ host }, decision.diskShortfall ? 1 : 0);
      if (decision.diskShortfall) shortfalls.inc({ host });
    },
    recordDisk(host, usedPercent) {
      disk.set({ host }, usedPercent);
    },
    recordFreed(host, freed) {
      freedBytes.inc({ host, measure: freed.measure }, freed.bytes);
      measuredRemovals.inc({ host, measure: freed.measure });
    },
    recordContainerUse(host, outcome) {
      containerUses.inc({ host, outcome });
    },
    recordEventStreamReconnect(host) {
      eventReconnects.inc({ host });
    },
  };
}

/** Serves GET /metrics (and GET /healthz) until closed. Port 0 picks a free port (tests). */
export async function startMetricsServer(
  metrics: UpkeepMetrics,
  options: { port: number; host: string },
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      metrics.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        });
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
