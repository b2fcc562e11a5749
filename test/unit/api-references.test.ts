// The API's side of references: the statuses of the new refusals, and the lookup miss that says
// why (a chain too deep to commit from), through the route and the typed client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toErrorResponse } from '../../src/api/errors.js';
import { SnapkeeperClient } from '@snapkeeper/client';
import { SnapshotError } from '../../src/service/snapshot-error.js';
import { ErrorType } from '../../src/contract/errors.js';
import type { Harness } from './api-fakes.js';
import { TOKEN, buildApp } from './api-fakes.js';

let h: Harness;
let baseUrl: string;

beforeAll(async () => {
  h = buildApp({ token: TOKEN });
  baseUrl = await h.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await h.app.close();
});

describe('API: reference refusals', () => {
  it('maps engine trouble to 503, an ambiguous reference to 422, a chain too deep to a 404 miss', () => {
    expect(
      toErrorResponse(new SnapshotError(ErrorType.engineUnavailable, 'engine down; retry later')),
    ).toMatchObject({
      status: 503,
      body: { error: 'EngineUnavailable', message: 'engine down; retry later' },
    });
    expect(toErrorResponse(new SnapshotError(ErrorType.ambiguousReference, 'ambiguous'))).toMatchObject({
      status: 422,
      body: { error: 'AmbiguousReference' },
    });
    expect(toErrorResponse(new SnapshotError(ErrorType.chainTooDeep, 'too deep'))).toMatchObject({
      status: 404,
      body: { error: 'ChainTooDeep' },
    });
  });

  it('a registration the engine cannot serve answers 503 with the message', async () => {
    h.service.failWith = new SnapshotError(
      ErrorType.engineUnavailable,
      'the Docker engine failed; retry later',
    );
    try {
      const res = await h.app.inject({
        method: 'POST',
        url: '/v1/snapshots',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        payload: { projectId: 'p', workItemId: 'w', image: 'snap/p:1' },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        error: 'EngineUnavailable',
        message: 'the Docker engine failed; retry later',
      });
    } finally {
      h.service.failWith = undefined;
    }
  });

  it('a lookup of a snapshot too deep is a miss with its reason, for the route and the client', async () => {
    h.service.failWith = new SnapshotError(ErrorType.chainTooDeep, 'not offered for reuse: 100 layers');
    try {
      const res = await h.app.inject({
        method: 'GET',
        url: '/v1/snapshots/p/w',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: 'ChainTooDeep', message: 'not offered for reuse: 100 layers' });
      const client = new SnapkeeperClient({ baseUrl, token: TOKEN });
      expect(await client.lookup('p', 'w')).toBeNull();
      expect(await client.lookupWithReason('p', 'w')).toEqual({
        snapshot: null,
        miss: { code: 'ChainTooDeep', message: 'not offered for reuse: 100 layers' },
      });
    } finally {
      h.service.failWith = undefined;
    }
  });
});
