import { z } from 'zod';
import {
  type JsonSchema,
  componentUri,
  outputComponents,
  referencedComponents,
  requestSchema,
  responseSchema,
} from './openapi-json-schema';
import { routes as apiRoutes, webhooks as apiWebhooks } from './routes';

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
  /** False for the routes no rate limit applies to (signed result links); true otherwise. */
  rateLimited?: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: { name: string; description: string; required?: boolean }[];
  /** A named body (`.meta({ id })`) becomes a component under requestBodies. */
  body?: z.ZodType;
  /** Success responses, and error responses whose description says more than the default. */
  responses: Record<number, RouteResponse>;
  /** Error statuses beyond those every route of its kind has (401, 429, 503, and 4xx for bodies/params). */
  errors?: number[];
}

/** An event this server POSTs to a customer's callback URL (OpenAPI 3.1 `webhooks`). */
export interface WebhookDoc {
  name: string;
  summary: string;
  body: z.ZodType;
  /** What the receiver may answer, and what the server then does. */
  responses: Record<string, string>;
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
  429: 'A rate or concurrency limit was reached; wait Retry-After seconds',
  501: 'An operation no backend of this deployment runs',
  503: 'Redis or MongoDB is unreachable; retry shortly',
};

/** The IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers) and Retry-After, as components. */
const RATE_LIMIT_HEADERS: Record<string, { description: string; schema: JsonSchema }> = {
  RateLimit: {
    description:
      'The budget left under the policy that applied: `"reads";r=19990;t=7` (r requests left, t seconds until it refills)',
    schema: { type: 'string' },
  },
  'RateLimit-Policy': {
    description:
      'The policy that applied: `"reads";q=20000;w=10` (q requests per w seconds, per API key or, for "unauthenticated", per client address)',
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } },
};
const errorContent = { 'application/json': { schema: { $ref: componentUri('ErrorResponse') } } };
const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });

function errorStatuses(route: RouteDoc): number[] {
  const limited = route.rateLimited ?? true;
  const errors = new Set<number>([...(route.public ? [] : [401]), ...(limited ? [429] : []), 503]);
  if (route.body) [400, 413, 415, 422].forEach((status) => errors.add(status));
  if (route.params) errors.add(404);
  if (route.query) errors.add(422);
  (route.errors ?? []).forEach((status) => errors.add(status));
  return [...errors];
}

function responsesOf(route: RouteDoc): Record<string, unknown> {
  const limited = route.rateLimited ?? true;
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    const headers = {
      ...Object.fromEntries(
        Object.entries(response.headers ?? {}).map(([name, description]) => [
          name,
          { description, schema: { type: 'string' } },
        ]),
      ),
      ...(limited && Number(status) < 300 && { RateLimit: headerRef('RateLimit') }),
      ...(limited && Number(status) < 300 && { 'RateLimit-Policy': headerRef('RateLimit-Policy') }),
    };
    responses[status] = {
      description: response.description,
      ...(Object.keys(headers).length && { headers }),
      ...(response.schema && {
        content: {
          [response.contentType ?? 'application/json']: { schema: responseSchema(response.schema) },
        },
      }),
      // An error named for its description alone still has the one error shape.
      ...(!response.schema && Number(status) >= 400 && { content: errorContent }),
    };
  }
  for (const status of errorStatuses(route)) {
    responses[String(status)] ??= {
      description: ERROR_DESCRIPTIONS[status] ?? 'Error',
      ...(status === 429 && {
        headers: Object.fromEntries(Object.keys(RATE_LIMIT_HEADERS).map((name) => [name, headerRef(name)])),
      }),
      content: errorContent,
    };
  }
  return responses;
}

function parameters(where: 'path' | 'query', object: z.ZodObject | undefined) {
  if (!object) return [];
  return Object.entries(object.shape).map(([name, schema]) => ({
    name,
    in: where,
    required: where === 'path' || !(schema as z.ZodType).safeParse(undefined).success,
    schema: requestSchema(schema as z.ZodType),
  }));
}

const operationId = (method: string, path: string) =>
  `${method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ? c.toUpperCase() : ''))}`;

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate requests (SPEC §10), for
 * every route of the `routes` table (or those given). Request bodies are written as clients send them
 * (zod's input: fields with a default are optional) and responses as the server sends them (its output:
 * such fields are always there); only the components something refers to are kept.
 */
export function buildOpenApiDocument(options: {
  serverUrl: string;
  version: string;
  routes?: RouteDoc[];
  webhooks?: WebhookDoc[];
}): JsonSchema {
  const requestBodies: Record<string, unknown> = {};
  const bodyOf = (schema: z.ZodType) => {
    const body = { required: true, content: { 'application/json': { schema: requestSchema(schema) } } };
    const id = z.globalRegistry.get(schema)?.id;
    if (!id) return body;
    requestBodies[id] = body;
    return { $ref: `#/components/requestBodies/${id}` };
  };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of options.routes ?? apiRoutes) {
    paths[route.path] ??= {};
    paths[route.path]![route.method] = {
      summary: route.summary,
      tags: [route.tag],
      operationId: operationId(route.method, route.path),
      ...(route.public && { security: [] }),
      parameters: [
        ...parameters('path', route.params),
        ...parameters('query', route.query),
        ...(route.headers ?? []).map((h) => ({
          name: h.name,
          in: 'header',
          required: h.required ?? false,
          description: h.description,
          schema: { type: 'string' },
        })),
      ],
      ...(route.body && { requestBody: bodyOf(route.body) }),
      responses: responsesOf(route),
    };
  }

  const webhooks: Record<string, unknown> = {};
  for (const hook of options.webhooks ?? apiWebhooks) {
    webhooks[hook.name] = {
      post: {
        summary: hook.summary,
        tags: ['Webhooks'],
        operationId: `webhook${hook.name.replace(/(^|[^A-Za-z0-9]+)(.)/g, (_m, _s, c: string) => c.toUpperCase())}`,
        security: [],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: responseSchema(hook.body) } },
        },
        responses: Object.fromEntries(
          Object.entries(hook.responses).map(([status, description]) => [status, { description }]),
        ),
      },
    };
  }

  const all = outputComponents();
  const used = referencedComponents({ paths, webhooks }, all);
  const schemas = Object.fromEntries(Object.entries(all).filter(([id]) => used.has(id)));

  return {
    openapi: '3.1.0',
    info: {
      title: 'castforge API',
      version: options.version,
      description:
        'Identity-consistent image generation: profiles, generation jobs, status, results, webhooks and campaigns. ' +
        'Field for field compatible with the ImagePipeline API; extensions are marked (ext).',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: options.serverUrl }],
    security: [{ ApiKey: [] }],
    paths,
    webhooks,
    components: {
      schemas,
      requestBodies,
      headers: RATE_LIMIT_HEADERS,
      securitySchemes: { ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    },
  };
}
