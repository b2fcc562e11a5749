// The validation matrix, shared by the unit test (inject) and the integration test (a real
// server): every route, each bad input, and the field its 400 message must name.
/**
 * The snapshot fields every state answer promises its callers (docs/api.md); written out, not read
 * from the schema, so a field dropped from the schema fails here.
 */
export const SNAPSHOT_CONTRACT_FIELDS = [
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
];

export const valid = { projectId: 'p', workItemId: 'w', image: 'snap/p:1' };
export const id128 = `a${'b'.repeat(127)}`;
export const id129 = `a${'b'.repeat(128)}`;
export const digest = 'a'.repeat(64);

export interface BadRequest {
  route: string;
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  /** JSON-encoded when present; `NO_BODY` sends a JSON content type with no body at all. */
  body?: unknown;
  part: RegExp;
}

export const NO_BODY = Symbol('no body');

const REGISTER = 'POST /v1/snapshots';
const registerBad: Array<[string, unknown, RegExp]> = [
  ['missing projectId', { workItemId: 'w', image: 'snap/p:1' }, /projectId/],
  ['missing workItemId', { projectId: 'p', image: 'snap/p:1' }, /workItemId/],
  ['missing image', { projectId: 'p', workItemId: 'w' }, /image/],
  ['empty projectId', { ...valid, projectId: '' }, /projectId/],
  ['projectId starting with "-"', { ...valid, projectId: '-p' }, /projectId/],
  ['projectId with a space', { ...valid, projectId: 'a b' }, /projectId/],
  ['projectId with a quote', { ...valid, projectId: "a'b" }, /projectId/],
  ['projectId of 129 characters', { ...valid, projectId: id129 }, /projectId/],
  ['workItemId with ":"', { ...valid, workItemId: 'a:b' }, /workItemId/],
  ['workItemId not a string', { ...valid, workItemId: 42 }, /workItemId/],
  ['image with upper case', { ...valid, image: 'Snap/P:1' }, /image/],
  ['image with a space', { ...valid, image: 'snap/p :1' }, /image/],
  ['image of 256 characters', { ...valid, image: `s${'a'.repeat(255)}` }, /image/],
  ['image with a bad digest', { ...valid, image: 'snap/p@sha256:xyz' }, /image/],
  ['host with "/"', { ...valid, host: 'a/b' }, /host/],
  ['host of 64 characters', { ...valid, host: `h${'a'.repeat(63)}` }, /host/],
  ['ttlSeconds 0', { ...valid, ttlSeconds: 0 }, /ttlSeconds/],
  ['ttlSeconds over 90 days', { ...valid, ttlSeconds: 90 * 86400 + 1 }, /ttlSeconds/],
  ['ttlSeconds fractional', { ...valid, ttlSeconds: 1.5 }, /ttlSeconds/],
  ['ttlSeconds as a string (no coercion)', { ...valid, ttlSeconds: '60' }, /ttlSeconds/],
  ['slidingTtl as a string', { ...valid, slidingTtl: 'true' }, /slidingTtl/],
  ['pullRequest without number', { ...valid, pullRequest: { repository: 'a/b' } }, /number/],
  ['pullRequest number 0', { ...valid, pullRequest: { repository: 'a/b', number: 0 } }, /number/],
  ['pullRequest number too big', { ...valid, pullRequest: { repository: 'a/b', number: 2 ** 31 } }, /number/],
  [
    'pullRequest repository without owner',
    { ...valid, pullRequest: { repository: 'ab', number: 1 } },
    /repository/,
  ],
  [
    'pullRequest with an extra field',
    { ...valid, pullRequest: { repository: 'a/b', number: 1, x: 1 } },
    /additional/,
  ],
  ['an unknown field', { ...valid, extra: true }, /additional/],
  ['an array', [valid], /object/],
  ['null', null, /object/],
  ['no body', NO_BODY, /body/i],
];

export const registerGood: Array<[string, Record<string, unknown>]> = [
  ['ids of 128 characters', { ...valid, projectId: id128, workItemId: id128 }],
  ['ids with "/", ".", "_", "-"', { ...valid, projectId: 'org/repo.x', workItemId: 'feature/A_B-1' }],
  ['an image id', { ...valid, image: `sha256:${digest}` }],
  ['a short image id', { ...valid, image: digest.slice(0, 12) }],
  ['a digest reference', { ...valid, image: `registry.local:5000/snap/p@sha256:${digest}` }],
  [
    'every optional field',
    {
      ...valid,
      host: 'h.1_x-y',
      ttlSeconds: 1,
      slidingTtl: true,
      pullRequest: { repository: 'o/r', number: 1 },
    },
  ],
];

export const badIds: Array<[string, string]> = [
  ['leading "-"', '-x'],
  ['a space', 'a%20b'],
  ['a colon', 'a%3Ab'],
  ['129 characters', id129],
  ['a double-encoded slash', 'a%252Fb'],
];

const ITEM_ROUTES = [
  ['GET /v1/snapshots/{projectId}/{workItemId}', 'GET', '', undefined],
  ['DELETE /v1/snapshots/{projectId}/{workItemId}', 'DELETE', '', undefined],
  [
    'PUT /v1/snapshots/{projectId}/{workItemId}/pull-request',
    'PUT',
    '/pull-request',
    { repository: 'a/b', number: 1 },
  ],
] as const;

export const listGood = [
  '?pageSize=1',
  '?pageSize=200',
  '?state=removal-blocked',
  '?view=summary',
  '?projectId=org%2Frepo',
];

export const VALIDATION_MATRIX: BadRequest[] = [
  ...registerBad.map(([name, body, part]): BadRequest => ({
    route: REGISTER,
    name,
    method: 'POST',
    url: '/v1/snapshots',
    body,
    part,
  })),
  ...ITEM_ROUTES.flatMap(([route, method, suffix, body]) =>
    badIds.flatMap(([name, bad]): BadRequest[] => [
      {
        route,
        name: `projectId with ${name}`,
        method,
        url: `/v1/snapshots/${bad}/w${suffix}`,
        body,
        part: /projectId/,
      },
      {
        route,
        name: `workItemId with ${name}`,
        method,
        url: `/v1/snapshots/p/${bad}${suffix}`,
        body,
        part: /workItemId/,
      },
    ]),
  ),
  ...(
    [
      ['an empty reason', '?reason=', /reason/],
      ['a reason of 501 characters', `?reason=${'x'.repeat(501)}`, /reason/],
      ['an unknown parameter', '?force=true', /additional/],
    ] as const
  ).map(([name, query, part]): BadRequest => ({
    route: 'DELETE /v1/snapshots/{projectId}/{workItemId}',
    name,
    method: 'DELETE',
    url: `/v1/snapshots/p/w${query}`,
    part,
  })),
  ...(
    [
      ['no body', NO_BODY, /body/i],
      ['a repository without owner', { repository: 'ab', number: 1 }, /repository/],
      ['a number as a string', { repository: 'a/b', number: '5' }, /number/],
      ['a negative number', { repository: 'a/b', number: -1 }, /number/],
      ['an extra field', { repository: 'a/b', number: 1, merged: true }, /additional/],
    ] as const
  ).map(([name, body, part]): BadRequest => ({
    route: 'PUT /v1/snapshots/{projectId}/{workItemId}/pull-request',
    name,
    method: 'PUT',
    url: '/v1/snapshots/p/w/pull-request',
    body,
    part,
  })),
  ...(
    [
      ['an unknown state', '?state=gone', /state/],
      ['pageSize 0', '?pageSize=0', /pageSize/],
      ['pageSize 201', '?pageSize=201', /pageSize/],
      ['pageSize not a number', '?pageSize=ten', /pageSize/],
      ['a negative pageSize', '?pageSize=-1', /pageSize/],
      ['a bad projectId', '?projectId=a%27b', /projectId/],
      ['a bad host', '?host=a%2Fb', /host/],
      ['a cursor outside base64url', '?cursor=ab%2Bcd%3D', /cursor/],
      ['an unknown view', '?view=everything', /view/],
      ['an unknown parameter', '?limit=5', /additional/],
    ] as const
  ).map(([name, query, part]): BadRequest => ({
    route: 'GET /v1/snapshots',
    name,
    method: 'GET',
    url: `/v1/snapshots${query}`,
    part,
  })),
];

/** Headers and body of a matrix request, for inject or fetch. */
export function requestParts(c: BadRequest): { headers: Record<string, string>; body?: string } {
  if (c.body === undefined) return { headers: {} };
  if (c.body === NO_BODY) return { headers: { 'content-type': 'application/json' } };
  return { headers: { 'content-type': 'application/json' }, body: JSON.stringify(c.body) };
}
