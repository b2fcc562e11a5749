import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerMetrics, startMetricsServer } from '../../src/worker/worker-metrics.js';
import type { ReconcileReport } from '../../src/contract/reconcile-types.js';

function report(over: Partial<ReconcileReport> = {}): ReconcileReport {
  const image = {
    imageId: 'sha256:1',
    tags: [],
    projectId: 'p',
    workItemId: 'w',
    createdAt: '2026-01-01T00:00:00Z',
    ageSeconds: 900,
    sizeBytes: 1000,
  };
  return {
    host: 'h1',
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:00:10Z',
    dryRun: false,
    orphanGraceSeconds: 600,
    managedImages: 5,
    owned: 2,
    orphansRemoved: [image, { ...image, imageId: 'sha256:2', sizeBytes: 500 }],
    orphansKeptYoung: [{ ...image, imageId: 'sha256:3', ageSeconds: 5 }],
    blocked: [],
    vanished: [{ workflowId: 'snapshot:p:w', imageId: 'sha256:4', image: 'x:y' }],
    unverified: [],
    counts: {
      orphansRemoved: 2,
      orphanBytesRemoved: 1500,
      orphansKeptYoung: 1,
      blocked: 0,
      vanished: 1,
      unverified: 0,
    },
    error: null,
    ...over,
  };
}

describe('reconcile metrics', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('exports what a run found and did, per host and dry-run flag', async () => {
    const metrics = createWorkerMetrics();
    metrics.recordReconcile(report());
    metrics.recordReconcile(report());
    metrics.recordReconcile(report({ dryRun: true }));
    metrics.recordReconcile(report({ error: 'host down' }));
    const text = await metrics.registry.metrics();
    expect(text).toContain('snapkeeper_reconcile_runs_total{host="h1",dry_run="false",result="ok"} 2');
    expect(text).toContain('snapkeeper_reconcile_runs_total{host="h1",dry_run="false",result="error"} 1');
    expect(text).toContain('snapkeeper_reconcile_orphans_removed_total{host="h1",dry_run="false"} 4');
    expect(text).toContain('snapkeeper_reconcile_orphan_bytes_removed_total{host="h1",dry_run="false"} 3000');
    expect(text).toContain('snapkeeper_reconcile_orphans_removed_total{host="h1",dry_run="true"} 2');
    expect(text).toContain('snapkeeper_reconcile_managed_images{host="h1",dry_run="false"} 5');
    expect(text).toContain('snapkeeper_reconcile_owned_images{host="h1",dry_run="false"} 2');
    expect(text).toContain('snapkeeper_reconcile_orphans_kept_young{host="h1",dry_run="false"} 1');
    expect(text).toContain('snapkeeper_reconcile_vanished_total{host="h1",dry_run="false"} 2');
    expect(text).toContain(
      'snapkeeper_reconcile_last_run_timestamp_seconds{host="h1",dry_run="false"} 1767225610',
    );
  });

  it('serves them on /metrics over HTTP', async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: true });
    metrics.recordReconcile(report());
    const server = await startMetricsServer(metrics, { port: 0, host: '127.0.0.1' });
    close = server.close;
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const body = await res.text();
    expect(body).toContain('snapkeeper_reconcile_runs_total');
    expect(body).toContain('snapkeeper_worker_process_cpu_seconds_total');
    expect((await fetch(`http://127.0.0.1:${server.port}/nope`)).status).toBe(404);
  });
});
