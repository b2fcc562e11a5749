// The OpenAPI 3.1 document, built from the routes as fastify registers them: request schemas are
// the ones ajv validates with, and each route carries its responses in `config.openapi`. A route
// without that documentation fails the server start, so nothing is served undocumented.
import type { RouteOptions } from 'fastify';
import { errorSchema } from './schemas.js';

export interface OpenApiResponse {
  description: string;
  schema?: object;
  contentType?: string;
  example?: unknown;
}

export interface OpenApiOperation {
  summary: string;
  description?: string;
  tags?: string[];
  /** Needs the bearer token when SNAPKEEPER_API_TOKEN is set. */
  auth?: boolean;
  /** Request headers to document (the webhook's are checked by hand, not by ajv). */
  headers?: Array<{ name: string; required: boolean; description: string }>;
  /** Request body documentation when the route has no body schema (e.g. the raw webhook body). */
  requestBody?: { description: string; contentTypes: string[] };
  requestExample?: unknown;
  responses: Record<string, OpenApiResponse>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    openapi?: OpenApiOperation;
  }
}

export interface DocumentedRoute {
  method: string;
  url: string;
  schema?: { body?: unknown; params?: unknown; querystring?: unknown };
  openapi: OpenApiOperation;
}

type Schema = {
  properties?: Record<string, { description?: string } & Record<string, unknown>>;
  required?: readonly string[];
};

/** `/v1/snapshots/:projectId/:workItemId` → `/v1/snapshots/{projectId}/{workItemId}` */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

export function collectRoute(route: RouteOptions, into: DocumentedRoute[]): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  for (const method of methods) {
    if (method === 'HEAD' || method === 'OPTIONS') continue;
    const openapi = route.config?.openapi;
    if (!openapi)
      throw new Error(`route ${method} ${route.url} has no OpenAPI documentation (config.openapi)`);
    into.push({
      method,
      url: route.url,
      schema: route.schema as DocumentedRoute['schema'],
      openapi,
    });
  }
}

function parameters(where: 'path' | 'query', schema: unknown) {
  const s = schema as Schema | undefined;
  return Object.entries(s?.properties ?? {}).map(([name, prop]) => {
    const { description, ...rest } = prop;
    return {
      name,
      in: where,
      required: where === 'path' || (s?.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

export function buildOpenApiDocument(routes: DocumentedRoute[], info: { version: string }): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of routes) {
    const op = route.openapi;
    const path = openApiPath(route.url);
    const responses = Object.fromEntries(
      Object.entries(op.responses).map(([status, r]) => {
        const schema = r.schema ?? (Number(status) >= 400 ? errorSchema : undefined);
        const content = schema
          ? {
              content: {
                [r.contentType ?? 'application/json']: {
                  schema,
                  ...(r.example !== undefined ? { example: r.example } : {}),
                },
              },
            }
          : {};
        return [status, { description: r.description, ...content }];
      }),
    );
    const params = [
      ...parameters('path', route.schema?.params),
      ...parameters('query', route.schema?.querystring),
      ...(op.headers ?? []).map((h) => ({
        name: h.name,
        in: 'header',
        required: h.required,
        description: h.description,
        schema: { type: 'string' },
      })),
    ];
    const body = route.schema?.body
      ? {
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: route.schema.body,
                ...(op.requestExample !== undefined ? { example: op.requestExample } : {}),
              },
            },
          },
        }
      : op.requestBody
        ? {
            requestBody: {
              required: true,
              description: op.requestBody.description,
              content: Object.fromEntries(
                op.requestBody.contentTypes.map((t) => [
                  t,
                  {
                    schema: { type: 'object' },
                    ...(op.requestExample ? { example: op.requestExample } : {}),
                  },
                ]),
              ),
            },
          }
        : {};
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      operationId: `${route.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(op.tags ? { tags: op.tags } : {}),
      ...(op.auth ? { security: [{ bearerAuth: [] }] } : { security: [] }),
      ...(params.length > 0 ? { parameters: params } : {}),
      ...body,
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'snapkeeper',
      version: info.version,
      description:
        'Keeps Docker snapshot images of work items exactly as long as they are useful. ' +
        'Errors are always JSON `{ error, message }`.',
    },
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'Required on /v1 when SNAPKEEPER_API_TOKEN is set.',
        },
      },
      schemas: { Error: errorSchema },
    },
    paths,
  };
}
