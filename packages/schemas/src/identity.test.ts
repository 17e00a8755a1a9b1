import { type z } from 'zod';
import { buildOpenApiDocument } from './openapi';
import { COMMON_REQUEST_FIELDS, operationRequests } from './identity';
import { GenerateImageRequest, JobQueuedResponse, JobStatus, PinnableField } from './generation';
import { OperationName, operationRoutes } from './operations';
import { issuesToDetail } from './validation';
import { IMG, IMG2, sdkBodies } from './__tests__/sdk-bodies';

const detailOf = (schema: z.ZodType, body: unknown) => {
  const result = schema.safeParse(body, { reportInput: true });
  if (result.success) throw new Error(`expected ${JSON.stringify(body)} to be refused`);
  return issuesToDetail(result.error.issues, 'body');
};

describe('operation request bodies', () => {
  describe.each(OperationName.options)('%s', (operation) => {
    const { request } = operationRequests[operation];

    it.each(sdkBodies[operation].map((body, i) => [i, body] as const))(
      "accepts the official SDK's body #%d",
      (_i, body) => {
        const parsed = request.safeParse(body);
        expect(parsed.error?.issues).toBeUndefined();
      },
    );

    it('still refuses an unknown field, by name', () => {
      const body = { ...sdkBodies[operation][0], wait: true };
      expect(detailOf(request, body)).toEqual([
        { loc: ['body', 'wait'], msg: 'unknown field', type: 'extra_forbidden' },
      ]);
    });

    it('refuses each required field left out, naming it', () => {
      const shape = request.shape as Record<string, z.ZodType>;
      const required = Object.keys(shape).filter((key) => !shape[key]!.safeParse(undefined).success);
      for (const field of required) {
        const { [field]: _gone, ...body } = sdkBodies[operation][0]!;
        expect(detailOf(request, body)).toContainEqual({
          loc: ['body', field],
          msg: 'is required',
          type: 'missing',
        });
      }
    });

    const { images, compositesLogo } = operationRequests[operation];
    const urls: string[] = [...images, ...(compositesLogo ? ['logo_url'] : [])];
    it.each(urls)('refuses %s when it is not an http(s) URL of at most 2048 characters', (field) => {
      const body = { ...sdkBodies[operation][0], [field]: 'ftp://images.example.com/a.png' };
      expect(detailOf(request, body)[0]!.loc).toEqual(['body', field]);
      const long = { ...sdkBodies[operation][0], [field]: `https://a.example/${'x'.repeat(2048)}` };
      expect(detailOf(request, long)[0]!.loc).toEqual(['body', field]);
    });
  });

  it('fills the SDK defaults of option fields the body leaves out', () => {
    expect(operationRequests.faceswap.request.parse({ source: IMG, target: IMG2 })).toMatchObject({
      upscale: 1.5,
      restore_weight: 0.5,
      override_profile: [],
    });
    expect(operationRequests.tryon.request.parse({ person_image: IMG, clothing_image: IMG2 })).toMatchObject({
      gender: 'woman',
      seed: -1,
    });
    expect(operationRequests.instamodel.request.parse({ input_face: IMG, prompt: 'x' })).toMatchObject({
      seed: -1,
      enhance_prompt: false,
    });
    expect(GenerateImageRequest.parse({ prompt: 'x' })).toMatchObject({
      seed: -1,
      enhance_prompt: false,
      override_profile: [],
    });
  });

  it('leaves pinnable fields unset when not sent, so the profile and the operation defaults can apply', () => {
    const parsed = operationRequests.tryon.request.parse({ person_image: IMG, clothing_image: IMG2 });
    expect(parsed).not.toHaveProperty('width');
    expect(parsed).not.toHaveProperty('output_format');
    expect(operationRequests.tryon.defaults).toEqual({ width: 832, height: 1248, output_format: 'webp' });
    expect(operationRequests.instamodel.defaults).toEqual({
      width: 768,
      height: 1024,
      output_format: 'webp',
    });
    expect(operationRequests['background-remove'].defaults).toEqual({ output_format: 'png' });
  });

  it.each([
    ['upscale', 0.5, 'must be at least 1'],
    ['upscale', 4.5, 'must be at most 4'],
    ['restore_weight', -0.1, 'must be at least 0'],
    ['restore_weight', 1.1, 'must be at most 1'],
    ['palette', ['red'], 'must be a hex colour such as #FF5733'],
  ])('refuses faceswap %s = %j', (field, value, msg) => {
    const detail = detailOf(operationRequests.faceswap.request, {
      source: IMG,
      target: IMG2,
      [field]: value,
    });
    expect(detail[0]!.msg).toBe(msg);
  });

  it('refuses a tryon gender other than woman or man', () => {
    const detail = detailOf(operationRequests.tryon.request, {
      person_image: IMG,
      clothing_image: IMG2,
      gender: 'other',
    });
    expect(detail).toEqual([{ loc: ['body', 'gender'], msg: 'must be one of: woman, man', type: 'enum' }]);
  });
});

describe('override_profile', () => {
  it('accepts the names of pinnable fields', () => {
    const parsed = GenerateImageRequest.parse({
      prompt: 'x',
      override_profile: ['width', 'height', 'output_format', 'negative_prompt'],
    });
    expect(parsed.override_profile).toEqual(['width', 'height', 'output_format', 'negative_prompt']);
  });

  it('refuses an unknown name, naming it and the names it may use', () => {
    const detail = detailOf(GenerateImageRequest, { prompt: 'x', override_profile: ['width', 'colour'] });
    expect(detail).toEqual([
      {
        loc: ['body', 'override_profile', 1],
        msg: expect.stringMatching(/^"colour" is not a field .*one of: negative_prompt, width, height/),
        type: 'enum',
      },
    ]);
  });

  it('refuses a field the operation has but the profile cannot pin, and one the operation lacks', () => {
    const tryon = { person_image: IMG, clothing_image: IMG2 };
    expect(
      detailOf(operationRequests.tryon.request, { ...tryon, override_profile: ['seed'] })[0]!.msg,
    ).toMatch(/^"seed" is not a field/);
    expect(
      detailOf(operationRequests.tryon.request, { ...tryon, override_profile: ['num_inference_steps'] })[0]!
        .msg,
    ).toMatch(/one of: width, height, output_format\)$/);
  });
});

describe('operationRequests', () => {
  it.each(OperationName.options)(
    '%s: images, pinned fields, options and common fields are exactly the request fields',
    (operation) => {
      const spec = operationRequests[operation];
      const keys = Object.keys(spec.request.shape).sort();
      const common = COMMON_REQUEST_FIELDS.filter((field) => keys.includes(field));
      const listed = [
        ...spec.images,
        ...spec.generation,
        ...spec.options,
        ...common,
        ...(spec.compositesLogo ? ['logo_url'] : []),
      ];
      expect([...listed].sort()).toEqual(keys);
      expect(new Set(listed).size).toBe(listed.length);
      expect(spec.requiredImages.every((field) => (spec.images as readonly string[]).includes(field))).toBe(
        true,
      );
      expect(spec.generation.every((field) => PinnableField.options.includes(field))).toBe(true);
    },
  );

  it('lets a profile and override_profile apply to every operation with a pinnable field', () => {
    for (const operation of OperationName.options) {
      const { request, generation } = operationRequests[operation];
      expect('profile_id' in request.shape).toBe(generation.length > 0);
      expect('override_profile' in request.shape).toBe(generation.length > 0);
    }
  });

  it('offers enhance_prompt exactly where a prompt exists', () => {
    for (const operation of OperationName.options) {
      const { shape } = operationRequests[operation].request;
      expect('enhance_prompt' in shape).toBe('prompt' in shape);
    }
  });
});

describe('job responses', () => {
  it.each(Object.values(operationRoutes))('a status and a 202 may name %s', (route) => {
    const queued = {
      job_id: 'job_0123456789abcdef',
      status: 'queued',
      endpoint: route,
      estimated_time_seconds: 3,
      queued_at: '2026-11-24T10:00:00Z',
    };
    expect(JobQueuedResponse.safeParse(queued).success).toBe(true);
    expect(JobStatus.shape.endpoint.safeParse(route).success).toBe(true);
  });

  it('refuses a route that is not an operation', () => {
    expect(JobStatus.shape.endpoint.safeParse('/generate/video/v1').success).toBe(false);
  });

  it('carries the SPEC §4 fields the SDK reads, nullable', () => {
    const extras = {
      estimated_time_seconds: null,
      processing_time_seconds: 6.9,
      warnings: ['enhance_prompt: no prompt enhancer is configured'],
      prompt_hash: 'a'.repeat(64),
      cost_usd: null,
    };
    for (const [field, value] of Object.entries(extras)) {
      const schema = JobStatus.shape[field as keyof typeof extras];
      expect(schema.safeParse(value).success).toBe(true);
      expect(schema.safeParse(null).success).toBe(true);
    }
    expect(JobStatus.shape.prompt_hash.safeParse('not-hex').success).toBe(false);
  });
});

describe('the OpenAPI document', () => {
  type Schema = { properties?: Record<string, unknown>; required?: string[] };
  const doc = buildOpenApiDocument({ serverUrl: 'http://localhost', version: 'test' }) as {
    components: {
      schemas: Record<string, Schema>;
      requestBodies: Record<string, { content: Record<string, { schema: Schema }> }>;
    };
  };

  it.each([
    ['IdentityLockRequest', ['input_image', 'prompt']],
    ['IdentityReplaceRequest', ['input_image', 'prompt']],
    ['IdentityFaceswapRequest', ['source', 'target']],
    ['InstamodelRequest', ['input_face', 'prompt']],
    ['TryonRequest', ['person_image', 'clothing_image']],
    ['EditImageRequest', ['prompt']],
    ['BackgroundChangeRequest', ['input_image', 'prompt', 'subject_description']],
    ['BackgroundRemoveRequest', ['input_image']],
    ['BrandingLogoRequest', ['input_image', 'logo_url']],
    ['BrandingTemplateRequest', ['input_image']],
    ['UpscaleImageRequest', ['input_image']],
    ['SegmentImageRequest', ['image_url']],
  ])('describes %s with its required fields', (id, required) => {
    // Request bodies are components of their own, in their input form (openapi.ts).
    expect(doc.components.requestBodies[id]?.content['application/json']?.schema.required?.sort()).toEqual(
      [...required].sort(),
    );
  });

  it('describes the new generation fields', () => {
    const body = doc.components.requestBodies.GenerateImageRequest!.content['application/json']!.schema;
    expect(Object.keys(body.properties!)).toEqual(
      expect.arrayContaining(['enhance_prompt', 'logo_url', 'override_profile']),
    );
  });
});
