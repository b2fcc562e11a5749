// Open routes for probes, scrapers and tooling: no token, no Temporal call except /readyz.
import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../deps.js';
import { HTTP_LIMITS } from '../http-limits.js';
import { ApiError } from '../errors.js';
import { healthSchema } from '../schemas.js';

export async function healthRoutes(
  app: FastifyInstance,
  deps: RouteDeps & { openApiDocument: () => object },
): Promise<void> {
  const { client, metrics } = deps;

  app.get(
    '/healthz',
    {
      config: {
        openapi: {
          summary: 'Liveness: the process answers',
          tags: ['operations'],
          responses: { '200': { description: 'Alive', schema: healthSchema, example: { status: 'ok' } } },
        },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      config: {
        openapi: {
          summary: 'Readiness: Temporal answers for the configured namespace',
          tags: ['operations'],
          responses: {
            '200': {
              description: 'Ready',
              schema: healthSchema,
              example: { status: 'ready', temporal: 'reachable' },
            },
            '503': { description: 'NotReady: Temporal did not answer within 2 s' },
          },
        },
      },
    },
    async (request) => {
      try {
        await client.connection.withDeadline(Date.now() + HTTP_LIMITS.readinessDeadlineMs, () =>
          client.workflowService.describeNamespace({ namespace: client.options.namespace }),
        );
      } catch (err) {
        request.log.warn({ err: (err as Error)?.message }, 'not ready: Temporal unreachable');
        throw new ApiError(
          503,
          'NotReady',
          `Temporal namespace ${client.options.namespace} did not answer within ${HTTP_LIMITS.readinessDeadlineMs} ms`,
        );
      }
      return { status: 'ready', temporal: 'reachable' };
    },
  );

  app.get(
    '/metrics',
    {
      config: {
        openapi: {
          summary: 'Prometheus metrics',
          tags: ['operations'],
          responses: {
            '200': {
              description: 'Prometheus text exposition format',
              contentType: 'text/plain',
              schema: { type: 'string' },
            },
          },
        },
      },
    },
    async (_request, reply) => {
      void reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );

  app.get(
    '/openapi.json',
    {
      config: {
        openapi: {
          summary: 'This OpenAPI 3.1 document',
          tags: ['operations'],
          responses: { '200': { description: 'The document', schema: { type: 'object' } } },
        },
      },
    },
    async () => deps.openApiDocument(),
  );
}
