// Prometheus metrics of one API process. Each server gets its own registry, so tests can run many
// servers in one process; `/metrics` serves it together with Node's default process metrics.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  webhookDeliveries: Counter<'event' | 'outcome'>;
  webhookSignals: Counter<'kind' | 'result'>;
  registrations: Counter<'outcome'>;
}

export function createApiMetrics(options: { defaultMetrics?: boolean } = {}): ApiMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'snapkeeper_http_requests_total',
      help: 'HTTP requests answered, by route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'snapkeeper_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'snapkeeper_webhook_deliveries_total',
      help: 'GitHub webhook deliveries, by event and outcome',
      labelNames: ['event', 'outcome'],
      registers: [registry],
    }),
    webhookSignals: new Counter({
      name: 'snapkeeper_webhook_signals_total',
      help: 'Signals sent to snapshot workflows for webhook deliveries, by kind and result',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
    registrations: new Counter({
      name: 'snapkeeper_registrations_total',
      help: 'Snapshot registrations, by outcome (created, replaced, unchanged, or the refusal type)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
