import { z } from 'zod';
import { routes } from './routes';

type JsonSchema = Record<string, unknown>;

export interface RouteResponse {
  description: string;
  schema?: z.ZodType;
  /** Defaults to application/json when a schema is given. */
  contentType?: string;
  headers?: Record<string, string>;
}

export interface RouteDoc {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  /** OpenAPI form: `/profiles/v1/{profile_id}`. */
  path: string;
  summary: string;
  tag: string;
  /** Routes open to anyone: health, metrics, the document itself, signed result links. */
  public?: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: { name: string; description: string; required?: boolean }[];
  body?: z.ZodType;
  /** Success responses, and error responses whose description says more than the default. */
  responses: Record<number, RouteResponse>;
  /** Error statuses beyond those every route of its kind has (401, 503, and 4xx for bodies/params). */
  errors?: number[];
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The body is not valid JSON',
  401: 'Missing or unknown X-API-Key',
  404: 'Unknown id, or an id of another tenant',
  409: 'Conflict',
  410: 'Gone',
  412: 'If-Match no longer matches',
  413: 'Body over the size limit',
  415: 'The body is not application/json',
  422: 'Validation failed; `detail` names every bad field',
  405: 'A known path with another method; `Allow` lists the right ones',
  429: 'A rate or concurrency limit was reached; see Retry-After',
  501: 'An operation no backend of this deployment runs',
  503: 'Redis or MongoDB is unreachable; retry shortly',
};

/**
 * A named schema becomes a reference to its component; an unnamed one is inlined, with the named
 * schemas inside it pointed at their components instead of at local `$defs`.
 */
const toSchema = (schema: z.ZodType, uri: (id: string) => string): JsonSchema => {
  const id = z.globalRegistry.get(schema)?.id;
  if (id) return { $ref: uri(id) };
  const {
    $schema: _s,
    $defs: _d,
    ...rest
  } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
  return JSON.parse(
    JSON.stringify(rest).replace(/"#\/\$defs\/([^"]+)"/g, (_m, name: string) => JSON.stringify(uri(name))),
  ) as JsonSchema;
};

function parameters(where: 'path' | 'query', object: z.ZodObject | undefined, uri: (id: string) => string) {
  if (!object) return [];
  return Object.entries(object.shape).map(([name, schema]) => ({
    name,
    in: where,
    required: where === 'path' || !(schema as z.ZodType).safeParse(undefined).success,
    schema: toSchema(schema as z.ZodType, uri),
  }));
}

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate requests (SPEC §10).
 * Named schemas (`.meta({ id })`) become components; everything else is inlined.
 */
export function buildOpenApiDocument(options: { serverUrl: string; version: string }): JsonSchema {
  const uri = (id: string) => `#/components/schemas/${id}`;
  const registry = z.toJSONSchema(z.globalRegistry, {
    target: 'draft-2020-12',
    io: 'input',
    uri,
    unrepresentable: 'any',
  });
  const components: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(registry.schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
    components[id] = rest;
  }

  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      const contentType = response.contentType ?? 'application/json';
      responses[status] = {
        description: response.description,
        ...(response.headers && {
          headers: Object.fromEntries(
            Object.entries(response.headers).map(([name, description]) => [
              name,
              { description, schema: { type: 'string' } },
            ]),
          ),
        }),
        ...(response.schema && { content: { [contentType]: { schema: toSchema(response.schema, uri) } } }),
      };
    }
    const errors = new Set<number>([...(route.public ? [] : [401]), 503, ...(route.errors ?? [])]);
    if (route.body) [400, 413, 415, 422].forEach((status) => errors.add(status));
    if (route.params) errors.add(404);
    if (route.query) errors.add(422);
    for (const status of errors) {
      responses[String(status)] ??= {
        description: ERROR_DESCRIPTIONS[status] ?? 'Error',
        content: { 'application/json': { schema: { $ref: uri('ErrorResponse') } } },
      };
    }

    paths[route.path] ??= {};
    paths[route.path]![route.method] = {
      summary: route.summary,
      tags: [route.tag],
      operationId: `${route.method}${route.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ? c.toUpperCase() : ''))}`,
      ...(route.public && { security: [] }),
      parameters: [
        ...parameters('path', route.params, uri),
        ...parameters('query', route.query, uri),
        ...(route.headers ?? []).map((h) => ({
          name: h.name,
          in: 'header',
          required: h.required ?? false,
          description: h.description,
          schema: { type: 'string' },
        })),
      ],
      ...(route.body && {
        requestBody: {
          required: true,
          content: { 'application/json': { schema: toSchema(route.body, uri) } },
        },
      }),
      responses,
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'castforge API',
      version: options.version,
      description:
        'Identity-consistent image generation: profiles, generation jobs, status, results, webhooks and campaigns. ' +
        'Field for field compatible with the ImagePipeline API; extensions are marked (ext).',
    },
    servers: [{ url: options.serverUrl }],
    security: [{ ApiKey: [] }],
    components: {
      schemas: components,
      securitySchemes: { ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    },
    paths,
  };
}
