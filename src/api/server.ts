// The HTTP server: fastify, for its JSON-schema validation (ajv), per-route body limits, and
// `inject` for tests. Stateless: everything lives in Temporal, so any number of replicas serve.
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import type { ApiServerDeps, RouteDeps } from './deps.js';
import { HTTP_LIMITS } from './http-limits.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { createApiMetrics } from './metrics.js';
import type { DocumentedRoute } from './openapi.js';
import { buildOpenApiDocument, collectRoute } from './openapi.js';
import { healthRoutes } from './routes/health.js';
import { leaseRoutes } from './routes/leases.js';
import { snapshotRoutes } from './routes/snapshots.js';
import { webhookRoutes } from './routes/webhooks.js';

export const API_VERSION = '1.0.0';

export function createApiServer(deps: ApiServerDeps) {
  const metrics = deps.metrics ?? createApiMetrics();
  const routeDeps: RouteDeps = { ...deps, metrics };

  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // One line per answered request comes from the onResponse hook below instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: HTTP_LIMITS.apiBodyBytes,
    connectionTimeout: HTTP_LIMITS.connectionTimeoutMs,
    requestTimeout: HTTP_LIMITS.requestTimeoutMs,
    keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
    return503OnClosing: true,
    // Encoded ids are up to 128 characters, three times longer once %-encoded.
    routerOptions: { maxParamLength: 512 },
    // No coercion ("60" stays a string and is refused) and no silent dropping of unknown fields.
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
  });

  const routes: DocumentedRoute[] = [];
  let document: object | undefined;
  app.addHook('onRoute', (route) => collectRoute(route, routes));

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route, status: String(reply.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) request.log.warn({ ...labels, ms: reply.elapsedTime }, 'request answered');
    else request.log.debug({ ...labels, ms: reply.elapsedTime }, 'request answered');
  });

  void app.register(async (scope) =>
    healthRoutes(scope, {
      ...routeDeps,
      openApiDocument: () => {
        document ??= buildOpenApiDocument(routes, { version: API_VERSION });
        return document;
      },
    }),
  );
  void app.register(async (scope) => snapshotRoutes(scope, routeDeps));
  void app.register(async (scope) => webhookRoutes(scope, routeDeps));
  void app.register(async (scope) => leaseRoutes(scope, routeDeps));

  return app;
}

export type ApiServer = ReturnType<typeof createApiServer>;
