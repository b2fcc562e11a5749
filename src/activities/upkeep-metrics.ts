// What the reconcile and budget activities record about their host. The activities only need this
// interface; the worker process supplies the Prometheus implementation (src/worker/worker-metrics.ts).
import type { Registry } from 'prom-client';
import type { FreedBytes } from '../docker/freed-bytes.js';
import type { BudgetDecision } from '../contract/budget-types.js';
import type { ReconcileReport } from '../contract/reconcile-types.js';

export interface UpkeepMetrics {
  readonly registry: Registry;
  recordReconcile(report: ReconcileReport): void;
  recordBudget(host: string, decision: BudgetDecision): void;
  recordDisk(host: string, usedPercent: number): void;
  /** A snapshot removal and the bytes it freed (optional: test fakes may leave it out). */
  recordFreed?(host: string, freed: FreedBytes): void;
  /** What became of one container create or start event (src/worker/container-use-recorder.ts). */
  recordContainerUse?(host: string, outcome: string): void;
  /** The engine's event stream ended or could not be opened; the worker connects again. */
  recordEventStreamReconnect?(host: string): void;
}
