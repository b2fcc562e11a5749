// REST for routers: register, reuse lookup, invalidate, link a pull request, list.
import type { FastifyInstance } from 'fastify';
import { ErrorType } from '../../contract/errors.js';
import type {
  PullRequestRef,
  RegisterSnapshotBody,
  SnapshotState,
  SnapshotStatus,
  SnapshotSummary,
} from '../../contract/snapshot-types.js';
import { SnapshotError } from '../../service/snapshot-error.js';
import { listSnapshots } from '../../service/list-snapshots.js';
import { mapLimit } from '../../service/map-limit.js';
import { requireBearerToken } from '../auth.js';
import type { RouteDeps } from '../deps.js';
import { HTTP_LIMITS } from '../http-limits.js';
import { ApiError } from '../errors.js';
import { releaseRegisteredLease } from './lease-release.js';
import {
  invalidateQuerySchema,
  invalidateResponseSchema,
  listQuerySchema,
  pullRequestSchema,
  registerBodySchema,
  registerResponseSchema,
  snapshotPageSchema,
  snapshotParamsSchema,
  snapshotSchema,
} from '../schemas.js';

type RegisterBody = RegisterSnapshotBody;

interface SnapshotParams {
  projectId: string;
  workItemId: string;
}

interface ListQuery {
  projectId?: string;
  state?: SnapshotStatus;
  host?: string;
  pageSize?: string;
  cursor?: string;
  view?: 'summary' | 'full';
}

const EXAMPLE_STATE: SnapshotState = {
  projectId: 'acme',
  workItemId: 'TICKET-42',
  image: 'snapkeeper/snapshot:acme-ticket-42-lx3k9a-1f2e3d4c',
  imageId: 'sha256:5f1c0b2c7e4d9a8b6f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a',
  host: 'build-01',
  state: 'active',
  createdAt: '2025-01-01T10:00:00.000Z',
  expiresAt: '2025-01-02T10:00:00.000Z',
  lastUsedAt: '2025-01-01T10:00:00.000Z',
  sizeBytes: 734003200,
  ttlSeconds: 86400,
  slidingTtl: false,
  pullRequest: { repository: 'acme/app', number: 17 },
  endReason: null,
  blockedBy: null,
  message: null,
};

const notFound = (p: SnapshotParams) =>
  new ApiError(404, ErrorType.snapshotNotFound, `no active snapshot for ${p.projectId}/${p.workItemId}`);

const location = (p: SnapshotParams) =>
  `/v1/snapshots/${encodeURIComponent(p.projectId)}/${encodeURIComponent(p.workItemId)}`;

const COMMON_ERRORS = {
  '400': { description: 'Invalid request (the message names the field)' },
  '401': { description: 'Missing or wrong bearer token (only when SNAPKEEPER_API_TOKEN is set)' },
  '503': { description: 'Temporal did not answer in time' },
};

export async function snapshotRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { service, client, policies, config, metrics } = deps;
  const within = <R>(ms: number, fn: () => Promise<R>) => client.connection.withDeadline(Date.now() + ms, fn);

  app.addHook('onRequest', requireBearerToken(config.api.token));
  // JSON only: fastify's built-in text/plain parser would turn a stray text body into a string.
  app.removeContentTypeParser('text/plain');

  app.post(
    '/v1/snapshots',
    {
      schema: { body: registerBodySchema },
      config: {
        openapi: {
          summary: 'Register a snapshot image of a work item',
          description:
            'Idempotent. The image must exist on the host and carry the managed labels ' +
            '(io.snapkeeper.managed=true, io.snapkeeper.project, io.snapkeeper.work-item). ' +
            'A new image for the same work item replaces (and removes) the old one.',
          tags: ['snapshots'],
          auth: true,
          requestExample: {
            projectId: 'acme',
            workItemId: 'TICKET-42',
            image: EXAMPLE_STATE.image,
            host: 'build-01',
            ttlSeconds: 86400,
            pullRequest: { repository: 'acme/app', number: 17 },
          },
          responses: {
            '201': {
              description: 'Registered a new snapshot',
              schema: registerResponseSchema,
              example: { ...EXAMPLE_STATE, outcome: 'created' },
            },
            '200': {
              description:
                'Replaced the previous image (outcome replaced) or repeated a registration (unchanged)',
              schema: registerResponseSchema,
            },
            ...COMMON_ERRORS,
            '403': { description: 'ProjectDisabled: the policy file disables snapshots for this project' },
            '409': {
              description:
                'PullRequestMerged: the pullRequest has already merged (also when the merge arrives while the image ' +
                'is being checked); the image is removed',
            },
            '422': {
              description:
                'ImageNotFound (no such image on the host), AmbiguousReference (a short id or name ' +
                'that names several images) or UnmanagedImage (labels missing or wrong)',
              example: {
                error: 'ImageNotFound',
                message: 'image snapkeeper/snapshot:x does not exist on this host',
              },
            },
            '503': {
              description:
                "HostUnavailable (no Docker worker for that host), EngineUnavailable (the host's Docker " +
                'engine failed or did not answer) or Temporal unreachable: retry later',
            },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as RegisterBody;
      const policy = policies.forProject(body.projectId);
      if (!policy.enabled) {
        metrics.registrations.inc({ outcome: ErrorType.projectDisabled });
        throw new ApiError(
          403,
          ErrorType.projectDisabled,
          `snapshots are disabled for project ${body.projectId} by the policy file`,
        );
      }
      const ttlSeconds = body.ttlSeconds ?? policy.ttlSeconds;
      const slidingTtl = body.slidingTtl ?? policy.slidingTtl;
      let result;
      try {
        result = await within(HTTP_LIMITS.registerDeadlineMs, () =>
          service.register({
            projectId: body.projectId,
            workItemId: body.workItemId,
            image: body.image,
            host: body.host ?? config.hostId,
            ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
            ...(slidingTtl !== undefined ? { slidingTtl } : {}),
            ...(body.pullRequest ? { pullRequest: body.pullRequest } : {}),
            ...(config.maxLayerDepth !== undefined ? { maxLayerDepth: config.maxLayerDepth } : {}),
          }),
        );
      } catch (err) {
        metrics.registrations.inc({ outcome: err instanceof SnapshotError ? err.type : 'error' });
        throw err;
      }
      metrics.registrations.inc({ outcome: result.outcome });
      await releaseRegisteredLease(deps, body, request.log);
      request.log.info(
        {
          projectId: body.projectId,
          workItemId: body.workItemId,
          image: body.image,
          outcome: result.outcome,
        },
        'snapshot registered',
      );
      void reply.code(result.outcome === 'created' ? 201 : 200).header('location', location(body));
      return { ...result.snapshot, outcome: result.outcome };
    },
  );

  app.get(
    '/v1/snapshots/:projectId/:workItemId',
    {
      schema: { params: snapshotParamsSchema },
      config: {
        openapi: {
          summary: 'Reuse lookup: the active snapshot of a work item',
          description:
            'Records the use (lastUsedAt) and, when the TTL slides, renews it. ' +
            'A snapshot whose image has SNAPKEEPER_MAX_LAYER_DEPTH layers or more is not offered ' +
            '(404 ChainTooDeep, with the reason): start the next job from its base image. ' +
            'Ids containing "/" are URL-encoded in the path (%2F).',
          tags: ['snapshots'],
          auth: true,
          responses: {
            '200': { description: 'The active snapshot', schema: snapshotSchema, example: EXAMPLE_STATE },
            '404': {
              description:
                'A miss: SnapshotNotFound (no active snapshot) or ChainTooDeep (the snapshot is too deep to commit from again)',
            },
            ...COMMON_ERRORS,
          },
        },
      },
    },
    async (request) => {
      const params = request.params as SnapshotParams;
      const state = await within(HTTP_LIMITS.callDeadlineMs, () =>
        service.lookup(params.projectId, params.workItemId),
      );
      if (!state) throw notFound(params);
      return state;
    },
  );

  app.delete(
    '/v1/snapshots/:projectId/:workItemId',
    {
      schema: { params: snapshotParamsSchema, querystring: invalidateQuerySchema },
      config: {
        openapi: {
          summary: 'Invalidate the snapshot of a work item',
          description:
            'Ends the image that is current when the request arrives (or, with imageId, only that image: 409 ' +
            'ImageNotCurrent when another one is current); an image registered a moment later is not touched. ' +
            'The reuse tag and then the image leave the engine in the background ' +
            '(state invalidated, then removed; removal-blocked while a container still uses it).',
          tags: ['snapshots'],
          auth: true,
          responses: {
            '202': {
              description: 'Invalidation accepted',
              schema: invalidateResponseSchema,
              example: {
                projectId: 'acme',
                workItemId: 'TICKET-42',
                status: 'invalidating',
                reason: 'tests failed',
                imageId: EXAMPLE_STATE.imageId,
              },
            },
            '404': { description: 'SnapshotNotFound: no active snapshot' },
            '409': {
              description:
                'ImageNotCurrent: imageId names an image that is no longer current; nothing was invalidated',
              example: {
                error: 'ImageNotCurrent',
                message: `image sha256:0f… is not the current snapshot of acme/TICKET-42 (the current one is ${EXAMPLE_STATE.imageId}); nothing was invalidated`,
              },
            },
            ...COMMON_ERRORS,
          },
        },
      },
    },
    async (request, reply) => {
      const params = request.params as SnapshotParams;
      const query = request.query as { reason?: string; imageId?: string };
      const reason = query.reason ?? 'invalidated through the API';
      const ended = await within(HTTP_LIMITS.callDeadlineMs, () =>
        service.invalidateImage(params.projectId, params.workItemId, {
          reason,
          ...(query.imageId ? { imageId: query.imageId } : {}),
        }),
      );
      if (!ended) throw notFound(params);
      request.log.info({ ...params, reason, imageId: ended.imageId }, 'snapshot invalidated');
      void reply.code(202);
      return {
        projectId: params.projectId,
        workItemId: params.workItemId,
        status: 'invalidating',
        reason,
        imageId: ended.imageId,
      };
    },
  );

  app.put(
    '/v1/snapshots/:projectId/:workItemId/pull-request',
    {
      schema: { params: snapshotParamsSchema, body: pullRequestSchema },
      config: {
        openapi: {
          summary: 'Link the active snapshot to a pull request',
          description:
            'When that pull request merges, the merge webhook ends the snapshot. A pull request that has already ' +
            'merged cannot keep a snapshot alive: 409 PullRequestMerged, and the snapshot ends.',
          tags: ['snapshots'],
          auth: true,
          requestExample: { repository: 'acme/app', number: 17 },
          responses: {
            '200': {
              description: 'The snapshot, now linked',
              schema: snapshotSchema,
              example: EXAMPLE_STATE,
            },
            '404': { description: 'SnapshotNotFound: no active snapshot' },
            '409': {
              description: 'PullRequestMerged: that pull request has already merged; the snapshot ends',
            },
            ...COMMON_ERRORS,
          },
        },
      },
    },
    async (request) => {
      const params = request.params as SnapshotParams;
      const pr = request.body as PullRequestRef;
      const state = await within(HTTP_LIMITS.callDeadlineMs, () =>
        service.linkPullRequest(params.projectId, params.workItemId, pr),
      );
      if (!state) throw notFound(params);
      return state;
    },
  );

  app.get(
    '/v1/snapshots',
    {
      schema: { querystring: listQuerySchema },
      config: {
        openapi: {
          summary: 'List snapshots through Temporal visibility, with cursor pagination',
          description:
            'Without state: the open snapshot workflows. state=active|invalidated|removal-blocked: open ones ' +
            'in that state; state=removed: closed ones too, within the namespace retention. ' +
            'Visibility is eventually consistent: a change shows after a short delay.',
          tags: ['snapshots'],
          auth: true,
          responses: {
            '200': {
              description: 'One page',
              schema: snapshotPageSchema,
              example: {
                items: [
                  {
                    ...EXAMPLE_STATE,
                    imageId: null,
                    createdAt: null,
                    lastUsedAt: null,
                    workflowId: 'snapshot:acme:TICKET-42',
                    workflowStatus: 'running',
                  },
                ],
                nextCursor: 'CgQIARAB',
              },
            },
            ...COMMON_ERRORS,
          },
        },
      },
    },
    async (request) => {
      const q = request.query as ListQuery;
      const page = await within(HTTP_LIMITS.callDeadlineMs, () =>
        listSnapshots(client, {
          ...(q.projectId !== undefined ? { projectId: q.projectId } : {}),
          ...(q.state !== undefined ? { state: q.state } : {}),
          ...(q.host !== undefined ? { host: q.host } : {}),
          ...(q.pageSize !== undefined ? { pageSize: Number(q.pageSize) } : {}),
          ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        }),
      );
      if (q.view !== 'full') return page;
      const items = await within(HTTP_LIMITS.callDeadlineMs, () =>
        mapLimit(page.items, HTTP_LIMITS.fullViewConcurrency, async (item): Promise<SnapshotSummary> => {
          if (item.workflowStatus !== 'running') return item;
          const view = await service.view(item.projectId, item.workItemId).catch(() => null);
          const full = view?.current ?? view?.retiring[view.retiring.length - 1] ?? view?.last;
          return full ? { ...item, ...full } : item;
        }),
      );
      return { items, nextCursor: page.nextCursor };
    },
  );
}
