import { spawn } from 'node:child_process';
import path from 'node:path';
import { type ApiHarness, startApi } from '@castforge/testkit';
import request from 'supertest';

interface Validation {
  valid: boolean;
  version: string;
  errors: unknown;
}

/**
 * The validator is an ES module, which this CommonJS test run cannot load in-process, so it runs in a
 * child `node` that reads the document on stdin and writes its verdict on stdout.
 */
function validateOpenApi(document: unknown): Promise<Validation> {
  const script = `
    import { Validator } from '@seriousme/openapi-schema-validator';
    let text = '';
    for await (const chunk of process.stdin) text += chunk;
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(text));
    process.stdout.write(JSON.stringify({ valid: result.valid, version: validator.version, errors: result.errors ?? null }));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: path.resolve(__dirname, '../../../..'),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as Validation);
      else reject(new Error(`validator exited with ${code}: ${err}`));
    });
    child.stdin.end(JSON.stringify(document));
  });
}

type Operation = {
  security?: unknown[];
  parameters: { name: string; in: string; required: boolean }[];
  requestBody?: { $ref?: string; content?: Record<string, { schema: { $ref?: string } }> };
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }>; headers?: object }>;
};
type ObjectSchema = { properties?: Record<string, unknown>; required?: string[] } & object;
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, ObjectSchema>;
    requestBodies: Record<string, { content: Record<string, { schema: ObjectSchema }> }>;
  };
} & Record<string, unknown>;

describe('GET /openapi.json', () => {
  let api: ApiHarness;
  let doc: Document;
  beforeAll(async () => {
    api = await startApi('openapi');
    const res = await request(api.server).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.body;
  });
  afterAll(() => api.close());

  it('validates as an OpenAPI 3.1 document', async () => {
    const result = await validateOpenApi(doc);
    expect(result.errors).toBeNull();
    expect(result).toMatchObject({ valid: true, version: '3.1' });
    expect(doc.openapi).toBe('3.1.0');
  });

  it('is checked by a validator that does refuse a broken document', async () => {
    const { info: _info, ...broken } = doc;
    expect((await validateOpenApi(broken)).valid).toBe(false);
  });

  it('documents every profile route with its method', () => {
    expect(Object.keys(doc.paths['/profiles/v1']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/profiles/v1/{profile_id}']!).sort()).toEqual(['delete', 'get', 'patch']);
    expect(Object.keys(doc.paths['/profiles/v1/{profile_id}/versions/{version}']!)).toEqual(['get']);
  });

  it('describes the create body with every SPEC §2 field, only name required, unknown fields refused', () => {
    const post = doc.paths['/profiles/v1']!.post!;
    expect(post.requestBody).toEqual({ $ref: '#/components/requestBodies/IdentityProfileCreate' });
    const create = doc.components.requestBodies.IdentityProfileCreate!.content['application/json']!.schema;
    expect(Object.keys(create.properties!).sort()).toEqual(
      [
        'name',
        'description',
        'tags',
        'prompt_template',
        'prompt_template_mode',
        'negative_prompt',
        'steps',
        'cfg_scale',
        'seed_strategy',
        'fixed_seed',
        'width',
        'height',
        'output_format',
        'adapter',
        'storage',
      ].sort(),
    );
    expect(create.required).toEqual(['name']);
    expect(create).toMatchObject({ additionalProperties: false });
  });

  it('documents the answers: 201 with ETag, the profile and list schemas, and the §8 error shape', () => {
    const post = doc.paths['/profiles/v1']!.post!;
    expect(post.responses['201']!.content!['application/json']!.schema.$ref).toBe(
      '#/components/schemas/IdentityProfile',
    );
    expect(post.responses['201']!.headers).toHaveProperty('ETag');
    for (const status of ['400', '401', '413', '415', '422', '503']) {
      expect(post.responses[status]!.content!['application/json']!.schema.$ref).toBe(
        '#/components/schemas/ErrorResponse',
      );
    }
    expect(doc.paths['/profiles/v1']!.get!.responses['200']!.content!['application/json']!.schema.$ref).toBe(
      '#/components/schemas/IdentityProfileList',
    );
    const patch = doc.paths['/profiles/v1/{profile_id}']!.patch!;
    expect(Object.keys(patch.responses)).toEqual(expect.arrayContaining(['200', '404', '412', '422']));
    expect(patch.parameters).toContainEqual(expect.objectContaining({ name: 'If-Match', in: 'header' }));
    expect(Object.keys(doc.components.schemas.ErrorResponse!.properties!).sort()).toEqual([
      'detail',
      'error_code',
      'message',
      'request_id',
    ]);
  });

  it('writes request fields with a default as optional: a generate call needs neither seed nor priority', () => {
    const generate = doc.components.requestBodies.GenerateImageRequest!.content['application/json']!.schema;
    expect(generate.required ?? []).toEqual([]);
    expect(generate.properties).toMatchObject({ seed: { default: -1 }, priority: { default: 0 } });
    const campaign = doc.components.requestBodies.CampaignCreate!.content['application/json']!.schema;
    // profile_ids or, for identity operations, a roster (SPEC §7): neither is required on its own.
    expect(campaign.required).toEqual(['name', 'scenes']);
  });

  it('answers every operation with a 4xx and a 5xx in the SPEC §8 error shape', () => {
    const errorRef = '#/components/schemas/ErrorResponse';
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const errors = Object.entries(operation.responses).filter(([status]) => /^[45]/.test(status));
        const shapes = errors.map(([, r]) => r.content?.['application/json']?.schema.$ref);
        expect({ route: `${method} ${path}`, has4xx: errors.some(([s]) => s.startsWith('4')) }).toEqual({
          route: `${method} ${path}`,
          has4xx: true,
        });
        expect(errors.some(([s]) => s.startsWith('5'))).toBe(true);
        // /readyz answers its 503 with the readiness body, which says which dependency is down.
        if (path !== '/readyz') expect(new Set(shapes)).toEqual(new Set([errorRef]));
      }
    }
  });

  it('names its license and documents the webhook events it sends', () => {
    expect(doc.info).toMatchObject({ license: { name: 'Apache-2.0', identifier: 'Apache-2.0' } });
    expect(Object.keys(doc.webhooks as object).sort()).toEqual(['campaign.completed', 'job.ended']);
  });

  it('documents the list query and the path parameters', () => {
    const list = doc.paths['/profiles/v1']!.get!;
    expect(list.parameters.map((p) => [p.name, p.in, p.required])).toEqual([
      ['limit', 'query', false],
      ['cursor', 'query', false],
      ['tag', 'query', false],
    ]);
    const version = doc.paths['/profiles/v1/{profile_id}/versions/{version}']!.get!;
    expect(version.parameters.map((p) => [p.name, p.in, p.required])).toEqual([
      ['profile_id', 'path', true],
      ['version', 'path', true],
    ]);
  });

  it('asks for X-API-Key everywhere except the operations routes', () => {
    expect(doc.components).toMatchObject({
      securitySchemes: { ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    });
    expect(doc.security).toEqual([{ ApiKey: [] }]);
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      expect(doc.paths[path]!.get!.security).toEqual([]);
    }
    for (const [path, methods] of Object.entries(doc.paths)) {
      if (!path.startsWith('/profiles')) continue;
      for (const operation of Object.values(methods)) {
        expect(operation.security).toBeUndefined();
        expect(operation.responses).toHaveProperty('401');
      }
    }
  });
});
