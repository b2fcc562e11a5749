// REST for leases: a router takes one before it commits a container, so the reconciler cannot reap
// the commit before its registration, however long that takes (docs/operations.md, "Leases").
import type { FastifyInstance } from 'fastify';
import type { CreateLeaseBody, LeaseGrant } from '../../contract/lease-types.js';
import { requireBearerToken } from '../auth.js';
import type { RouteDeps } from '../deps.js';
import { HTTP_LIMITS } from '../http-limits.js';
import { ApiError } from '../errors.js';
import { createLeaseBodySchema, leaseGrantSchema, leaseParamsSchema } from '../schemas.js';

const COMMON_ERRORS = {
  '400': { description: 'Invalid request (the message names the field)' },
  '401': { description: 'Missing or wrong bearer token (only when SNAPKEEPER_API_TOKEN is set)' },
  '503': { description: 'Temporal did not answer in time, or this API has no lease service' },
};

const EXAMPLE_GRANT: LeaseGrant = {
  leaseId: '3f1c2b4e-8d7a-4c1e-9b2f-6a5d4c3b2a10',
  expiresAt: '2025-01-01T10:15:00.000Z',
};

export async function leaseRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { client, config, policies } = deps;
  const within = <R>(ms: number, fn: () => Promise<R>) => client.connection.withDeadline(Date.now() + ms, fn);
  const leases = () => {
    if (!deps.leases) throw new ApiError(503, 'LeasesUnavailable', 'this API runs without a lease service');
    return deps.leases;
  };

  app.addHook('onRequest', requireBearerToken(config.api.token));
  app.removeContentTypeParser('text/plain');

  app.post(
    '/v1/leases',
    {
      schema: { body: createLeaseBodySchema },
      config: {
        openapi: {
          summary: 'Take a lease for a commit in flight',
          description:
            'Label the commit io.snapkeeper.lease=<leaseId> (commitSnapshot does): the reconciler never removes ' +
            'a managed image whose lease lives, whatever its age. The lease ends at expiresAt, on ' +
            'DELETE /v1/leases/{leaseId}, or when a registration naming it is accepted; the image is then an ' +
            'ordinary orphan again (removed after the grace unless registered). Each call makes a new lease.',
          tags: ['leases'],
          auth: true,
          requestExample: { projectId: 'acme', workItemId: 'TICKET-42', ttlSeconds: 900 },
          responses: {
            '201': { description: 'The lease lives', schema: leaseGrantSchema, example: EXAMPLE_GRANT },
            ...COMMON_ERRORS,
            '403': { description: 'ProjectDisabled: the policy file disables snapshots for this project' },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as CreateLeaseBody;
      if (!policies.forProject(body.projectId).enabled) {
        throw new ApiError(
          403,
          'ProjectDisabled',
          `snapshots are disabled for project ${body.projectId} by the policy file`,
        );
      }
      const service = leases();
      const grant = await within(HTTP_LIMITS.callDeadlineMs, () =>
        service.create({
          projectId: body.projectId,
          workItemId: body.workItemId,
          ...(body.ttlSeconds !== undefined ? { ttlSeconds: body.ttlSeconds } : {}),
        }),
      );
      request.log.info({ ...body, ...grant }, 'lease taken');
      void reply.code(201).header('location', `/v1/leases/${grant.leaseId}`);
      return grant;
    },
  );

  app.delete(
    '/v1/leases/:leaseId',
    {
      schema: { params: leaseParamsSchema },
      config: {
        openapi: {
          summary: 'Release a lease',
          description:
            'Idempotent: 204 when the lease was live and is now released, and 204 again for a lease that has ' +
            'already ended (released, expired). 404 only for a lease id Temporal does not know (never made, ' +
            "or ended longer ago than the namespace's retention).",
          tags: ['leases'],
          auth: true,
          responses: {
            '204': { description: 'The lease is released (or had already ended)' },
            '404': { description: 'LeaseNotFound: no such lease' },
            ...COMMON_ERRORS,
          },
        },
      },
    },
    async (request, reply) => {
      const { leaseId } = request.params as { leaseId: string };
      const service = leases();
      const outcome = await within(HTTP_LIMITS.callDeadlineMs, () =>
        service.release(leaseId, 'released through the API'),
      );
      if (outcome === 'unknown') throw new ApiError(404, 'LeaseNotFound', `no lease ${leaseId}`);
      request.log.info({ leaseId, outcome }, 'lease released');
      void reply.code(204);
    },
  );
}
