// JSON schemas of the HTTP API. Fastify validates requests with them (ajv), and the OpenAPI
// document is built from the same objects, so the two cannot drift. The patterns come from
// src/contract/limits.ts, which the workflow's update validators enforce too.
import {
  HOST_ID_PATTERN,
  ID_PATTERN,
  IMAGE_REF_MAX_LENGTH,
  IMAGE_REF_PATTERN,
  MAX_TTL_SECONDS,
  MIN_TTL_SECONDS,
  REASON_MAX_LENGTH,
  REPOSITORY_PATTERN,
} from '../contract/limits.js';
import { SNAPSHOT_STATUSES } from '../contract/snapshot-types.js';
import {
  LEASE_DEFAULT_TTL_SECONDS,
  LEASE_MAX_TTL_SECONDS,
  LEASE_MIN_TTL_SECONDS,
} from '../contract/lease-types.js';
import { LEASE_ID_PATTERN } from '../contract/names.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../service/list-snapshots.js';

export const idSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: ID_PATTERN.source,
  description: 'Letters, digits, ".", "_", "-", "/"; starts with a letter or digit; at most 128 characters.',
} as const;

export const hostSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 63,
  pattern: HOST_ID_PATTERN.source,
  description: 'Docker host id (the SNAPKEEPER_HOST_ID of the Docker worker beside that engine).',
} as const;

export const imageSchema = {
  type: 'string',
  minLength: 1,
  maxLength: IMAGE_REF_MAX_LENGTH,
  pattern: IMAGE_REF_PATTERN.source,
  description: 'Docker image reference: repository[:tag], repository@sha256:digest, or an image id.',
} as const;

export const pullRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['repository', 'number'],
  properties: {
    repository: {
      type: 'string',
      maxLength: 201,
      pattern: REPOSITORY_PATTERN.source,
      description: 'GitHub "owner/name", spelled as GitHub spells it (the webhook matches it exactly).',
    },
    number: { type: 'integer', minimum: 1, maximum: 2 ** 31 - 1 },
  },
} as const;

export const registerBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['projectId', 'workItemId', 'image'],
  properties: {
    projectId: idSchema,
    workItemId: idSchema,
    image: imageSchema,
    host: { ...hostSchema, description: "Defaults to the API's SNAPKEEPER_HOST_ID." },
    ttlSeconds: {
      type: 'integer',
      minimum: MIN_TTL_SECONDS,
      maximum: MAX_TTL_SECONDS,
      description: 'Defaults to the project policy, then SNAPKEEPER_DEFAULT_TTL.',
    },
    slidingTtl: {
      type: 'boolean',
      description: 'Each lookup renews the TTL. Defaults to the project policy, then false.',
    },
    pullRequest: pullRequestSchema,
    leaseId: {
      type: 'string',
      pattern: LEASE_ID_PATTERN.source,
      description:
        'The lease that protected the commit (POST /v1/leases). Once the registration is accepted, the API ' +
        'releases it (only a lease of this work item); a refused registration leaves it as it was.',
    },
  },
} as const;

export const leaseIdSchema = {
  type: 'string',
  pattern: LEASE_ID_PATTERN.source,
  description: 'The leaseId that POST /v1/leases answered (a UUID).',
} as const;

export const createLeaseBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['projectId', 'workItemId'],
  properties: {
    projectId: idSchema,
    workItemId: idSchema,
    ttlSeconds: {
      type: 'integer',
      minimum: LEASE_MIN_TTL_SECONDS,
      maximum: LEASE_MAX_TTL_SECONDS,
      description: `How long the lease lives unless released, ${LEASE_MIN_TTL_SECONDS} to ${LEASE_MAX_TTL_SECONDS} seconds (default ${LEASE_DEFAULT_TTL_SECONDS}).`,
    },
  },
} as const;

export const leaseParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['leaseId'],
  properties: { leaseId: leaseIdSchema },
} as const;

export const leaseGrantSchema = {
  type: 'object',
  required: ['leaseId', 'expiresAt'],
  properties: {
    leaseId: leaseIdSchema,
    expiresAt: {
      type: 'string',
      format: 'date-time',
      description:
        'The lease lives at least until then, unless released; it ends a moment after at the latest.',
    },
  },
} as const;

export const snapshotParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['projectId', 'workItemId'],
  properties: {
    projectId: { ...idSchema, description: `${idSchema.description} URL-encode "/" as %2F.` },
    workItemId: { ...idSchema, description: `${idSchema.description} URL-encode "/" as %2F.` },
  },
} as const;

export const invalidateQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    reason: { type: 'string', minLength: 1, maxLength: REASON_MAX_LENGTH },
    imageId: {
      type: 'string',
      pattern: '^sha256:[0-9a-f]{64}$',
      description:
        'The image the caller means (its id, as register and lookup return it); 409 ImageNotCurrent when another image is current',
    },
  },
} as const;

// Query strings arrive as text and the API does not coerce types (a JSON body must not turn "60"
// into 60), so numbers in the query are digit strings.
export const listQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    projectId: idSchema,
    state: { type: 'string', enum: SNAPSHOT_STATUSES },
    host: hostSchema,
    pageSize: {
      type: 'string',
      pattern: '^(?:[1-9]|[1-9][0-9]|1[0-9]{2}|200)$',
      description: `Items per page, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).`,
    },
    cursor: {
      type: 'string',
      maxLength: 4096,
      pattern: '^[A-Za-z0-9_-]*$',
      description: 'The nextCursor of the previous page (opaque; only valid with the same filters).',
    },
    view: {
      type: 'string',
      enum: ['summary', 'full'],
      description:
        'summary (default): search attributes only, imageId/createdAt/lastUsedAt are null. ' +
        'full: one workflow query per open item fills every field.',
    },
  },
} as const;

// ---- responses (documentation only: fastify serialises handlers' results as they are) ----

const nullableString = { type: ['string', 'null'] } as const;

export const snapshotSchema = {
  type: 'object',
  required: [
    'projectId',
    'workItemId',
    'image',
    'imageId',
    'host',
    'state',
    'createdAt',
    'expiresAt',
    'lastUsedAt',
    'sizeBytes',
    'pullRequest',
  ],
  properties: {
    projectId: { type: 'string' },
    workItemId: { type: 'string' },
    image: { type: 'string' },
    imageId: { type: 'string' },
    host: { type: 'string' },
    state: { type: 'string', enum: SNAPSHOT_STATUSES },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    lastUsedAt: { type: 'string', format: 'date-time' },
    sizeBytes: { type: 'integer' },
    ttlSeconds: { type: 'integer' },
    slidingTtl: { type: 'boolean' },
    pullRequest: { oneOf: [pullRequestSchema, { type: 'null' }] },
    endReason: nullableString,
    blockedBy: nullableString,
    message: nullableString,
    references: {
      type: 'array',
      items: { type: 'string' },
      description:
        "References snapkeeper owns for the image besides its own snapkeeper/* tags: the registered one, or the commit's own tag when registered by id.",
    },
    layerDepth: { type: 'integer', description: 'Layer count of the image (RootFS layers).' },
    reuseBlockedBy: {
      ...nullableString,
      description: 'Why a lookup does not offer the snapshot (SNAPKEEPER_MAX_LAYER_DEPTH reached).',
    },
    keptBy: {
      type: ['array', 'null'],
      items: { type: 'string' },
      description: 'State kept: the references snapkeeper does not own that keep the image.',
    },
    freedBytes: {
      type: 'integer',
      description:
        "Once removed: the bytes the removal freed on the engine's disk (LayersSize before less after).",
    },
    freedBytesMeasure: {
      type: 'string',
      enum: ['measured', 'estimated'],
      description: '`estimated` when other image changes on the engine overlapped the removal.',
    },
  },
} as const;

export const registerResponseSchema = {
  ...snapshotSchema,
  required: [...snapshotSchema.required, 'outcome'],
  properties: {
    ...snapshotSchema.properties,
    outcome: { type: 'string', enum: ['created', 'replaced', 'unchanged'] },
  },
} as const;

export const snapshotSummarySchema = {
  type: 'object',
  required: [...snapshotSchema.required, 'workflowId', 'workflowStatus'],
  properties: {
    ...snapshotSchema.properties,
    imageId: nullableString,
    createdAt: nullableString,
    lastUsedAt: nullableString,
    workflowId: { type: 'string' },
    workflowStatus: { type: 'string' },
  },
} as const;

export const snapshotPageSchema = {
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: {
    items: { type: 'array', items: snapshotSummarySchema },
    nextCursor: nullableString,
  },
} as const;

export const invalidateResponseSchema = {
  type: 'object',
  required: ['projectId', 'workItemId', 'status', 'reason', 'imageId'],
  properties: {
    projectId: { type: 'string' },
    workItemId: { type: 'string' },
    status: { type: 'string', enum: ['invalidating'] },
    reason: { type: 'string' },
    imageId: { type: 'string', description: 'The image that was invalidated' },
  },
} as const;

export const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

export const webhookResponseSchema = {
  type: 'object',
  required: ['event', 'deliveryId', 'outcome'],
  properties: {
    event: { type: 'string' },
    deliveryId: { type: 'string' },
    outcome: { type: 'string', enum: ['ignored', 'merged', 'invalidated'] },
    reason: { type: 'string' },
    workflowId: {
      type: 'string',
      description: 'The per-pull-request workflow that signals every snapshot the event ends, with retries',
    },
    workItems: {
      type: 'array',
      description: 'What the fast first pass signalled at once; absent when it did not finish in time',
      items: {
        type: 'object',
        required: ['projectId', 'workItemId', 'match', 'signalled'],
        properties: {
          projectId: { type: 'string' },
          workItemId: { type: 'string' },
          match: {
            type: 'string',
            enum: ['link', 'branch'],
            description:
              'link: found through its link (ends only an image linked to this pull request); branch: through a branch rule (also ends an image without a link)',
          },
          signalled: { type: 'boolean', description: 'false when the work item had no open workflow' },
        },
      },
    },
  },
} as const;

export const healthSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' }, temporal: { type: 'string' } },
} as const;
