// What the reconcile and budget activities record about their host. The activities only need this
// interface; the worker process supplies the Prometheus implementation (src/worker/worker-metrics.ts).
import type { Registry } from 'prom-client';
import type { BudgetDecision } from '../contract/budget-types.js';
import type { ReconcileReport } from '../contract/reconcile-types.js';

export interface UpkeepMetrics {
  readonly registry: Registry;
  recordReconcile(report: ReconcileReport): void;
  recordBudget(host: string, decision: BudgetDecision): void;
  recordDisk(host: string, usedPercent: number): void;
}
