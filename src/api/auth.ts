// Bearer-token check for /v1. Both sides are hashed first, so timingSafeEqual compares equal
// lengths and the time taken reveals neither the token nor its length.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export function tokenMatches(expected: string, presented: string): boolean {
  return timingSafeEqual(digest(expected), digest(presented));
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** An onRequest hook; with no token configured, every request passes (and main warns at start). */
export function requireBearerToken(token: string | undefined) {
  return async function checkToken(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (token === undefined) return;
    const presented = bearerToken(request.headers.authorization);
    if (presented === undefined || !tokenMatches(token, presented)) {
      void reply.header('www-authenticate', 'Bearer realm="snapkeeper"');
      throw new ApiError(401, 'Unauthorized', 'this route needs the header Authorization: Bearer <token>');
    }
  };
}
