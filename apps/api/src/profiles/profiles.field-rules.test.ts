import { type ApiHarness, createProfileAs, expectError, startApi } from '@castforge/testkit';
import request from 'supertest';

describe('POST /profiles/v1', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('profiles-field-rules');
  });
  afterAll(() => api.close());

  const create = (tenant: string, body: unknown) => createProfileAs(api, tenant, body);

  describe('field rules of SPEC §2', () => {
    const long = (n: number) => 'x'.repeat(n);
    // `{"p":""}` is 8 bytes of JSON, so this `extra` is exactly 8 KB.
    const extraOfBytes = (bytes: number) => ({ p: long(bytes - 8) });

    const tags32 = Array.from({ length: 32 }, (_, i) => `t${i}`);
    const loras8 = Array.from({ length: 8 }, (_, i) => ({ name: `l${i}`, weight: 1 }));
    const snapshot = (fields: Record<string, unknown>) => ({ adapter_snapshot: fields });

    it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
      ['a 1-character name', { name: 'x' }, { name: 'x' }],
      ['a 200-character name', { name: long(200) }, { name: long(200) }],
      ['an empty description', { description: '' }, { description: '' }],
      ['a 2000-character description', { description: long(2000) }, { description: long(2000) }],
      ['32 tags', { tags: tags32 }, { tags: tags32 }],
      ['tags of 1 and 64 characters', { tags: ['a', long(64)] }, { tags: ['a', long(64)] }],
      [
        'a 4000-character prompt_template',
        { prompt_template: long(4000) },
        snapshot({ prompt_template: long(4000) }),
      ],
      [
        'prompt_template_mode prefix',
        { prompt_template_mode: 'prefix' },
        snapshot({ prompt_template_mode: 'prefix' }),
      ],
      [
        'prompt_template_mode replace',
        { prompt_template_mode: 'replace' },
        snapshot({ prompt_template_mode: 'replace' }),
      ],
      [
        'a 4000-character negative_prompt',
        { negative_prompt: long(4000) },
        snapshot({ negative_prompt: long(4000) }),
      ],
      ['steps 1', { steps: 1 }, snapshot({ steps: 1 })],
      ['steps 150', { steps: 150 }, snapshot({ steps: 150 })],
      ['cfg_scale 0', { cfg_scale: 0 }, snapshot({ cfg_scale: 0 })],
      ['cfg_scale 7.5', { cfg_scale: 7.5 }, snapshot({ cfg_scale: 7.5 })],
      ['cfg_scale 30', { cfg_scale: 30 }, snapshot({ cfg_scale: 30 })],
      ['seed_strategy user', { seed_strategy: 'user' }, snapshot({ seed_strategy: 'user' })],
      [
        'fixed_seed 0 with seed_strategy fixed',
        { seed_strategy: 'fixed', fixed_seed: 0 },
        snapshot({ seed_strategy: 'fixed', fixed_seed: 0 }),
      ],
      [
        'fixed_seed 4294967295',
        { seed_strategy: 'fixed', fixed_seed: 4294967295 },
        snapshot({ fixed_seed: 4294967295 }),
      ],
      [
        'a fixed_seed kept for later with seed_strategy random',
        { fixed_seed: 7 },
        snapshot({ seed_strategy: 'random', fixed_seed: 7 }),
      ],
      ['width and height 64', { width: 64, height: 64 }, snapshot({ width: 64, height: 64 })],
      ['width and height 2048', { width: 2048, height: 2048 }, snapshot({ width: 2048, height: 2048 })],
      ['non-square multiples of 8', { width: 832, height: 1216 }, snapshot({ width: 832, height: 1216 })],
      ['output_format jpeg', { output_format: 'jpeg' }, snapshot({ output_format: 'jpeg' })],
      ['output_format webp', { output_format: 'webp' }, snapshot({ output_format: 'webp' })],
      ['an empty adapter', { adapter: {} }, snapshot({ adapter: {} })],
      ['8 loras', { adapter: { loras: loras8 } }, snapshot({ adapter: { loras: loras8 } })],
      [
        'identity_adapter instantid',
        { adapter: { identity_adapter: 'instantid' } },
        snapshot({ adapter: { identity_adapter: 'instantid' } }),
      ],
      [
        'identity_adapter ip_adapter_faceid',
        { adapter: { identity_adapter: 'ip_adapter_faceid' } },
        snapshot({ adapter: { identity_adapter: 'ip_adapter_faceid' } }),
      ],
      [
        'identity_strength 0',
        { adapter: { identity_strength: 0 } },
        snapshot({ adapter: { identity_strength: 0 } }),
      ],
      [
        'identity_strength 2',
        { adapter: { identity_strength: 2 } },
        snapshot({ adapter: { identity_strength: 2 } }),
      ],
      [
        'an extra of exactly 8 KB',
        { adapter: { extra: extraOfBytes(8192) } },
        snapshot({ adapter: { extra: extraOfBytes(8192) } }),
      ],
      [
        'storage on gcs with only a bucket',
        { storage: { provider: 'gcs', bucket: 'b' } },
        { storage: { provider: 'gcs', bucket: 'b' } },
      ],
      [
        'storage on azure',
        { storage: { provider: 'azure', bucket: 'c' } },
        { storage: { provider: 'azure', bucket: 'c' } },
      ],
      [
        'storage on s3 behind an http endpoint',
        { storage: { provider: 's3', bucket: 'b', endpoint: 'http://minio.local:9000' } },
        { storage: { provider: 's3', bucket: 'b', endpoint: 'http://minio.local:9000' } },
      ],
    ])('accepts %s and echoes it', async (_label, fields, expected) => {
      const res = await create('accepts', { name: 'x', ...fields });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject(expected);
    });

    it.each<[string, Record<string, unknown>, string, string]>([
      ['a missing name', { name: undefined }, 'body.name', 'missing'],
      ['an empty name', { name: '' }, 'body.name', 'too_short'],
      ['a 201-character name', { name: long(201) }, 'body.name', 'too_long'],
      ['a name that is a number', { name: 42 }, 'body.name', 'invalid_type'],
      ['a null name', { name: null }, 'body.name', 'invalid_type'],
      ['a 2001-character description', { description: long(2001) }, 'body.description', 'too_long'],
      ['33 tags', { tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, 'body.tags', 'too_long'],
      ['an empty tag', { tags: ['ok', ''] }, 'body.tags.1', 'too_short'],
      ['a 65-character tag', { tags: [long(65)] }, 'body.tags.0', 'too_long'],
      ['tags that are a string', { tags: 'a,b' }, 'body.tags', 'invalid_type'],
      [
        'a 4001-character prompt_template',
        { prompt_template: long(4001) },
        'body.prompt_template',
        'too_long',
      ],
      [
        'an unknown prompt_template_mode',
        { prompt_template_mode: 'middle' },
        'body.prompt_template_mode',
        'enum',
      ],
      [
        'a 4001-character negative_prompt',
        { negative_prompt: long(4001) },
        'body.negative_prompt',
        'too_long',
      ],
      ['steps 0', { steps: 0 }, 'body.steps', 'too_small'],
      ['steps 151', { steps: 151 }, 'body.steps', 'too_big'],
      ['fractional steps', { steps: 9.5 }, 'body.steps', 'invalid_type'],
      ['steps as a string', { steps: '9' }, 'body.steps', 'invalid_type'],
      ['a negative cfg_scale', { cfg_scale: -0.1 }, 'body.cfg_scale', 'too_small'],
      ['cfg_scale 30.5', { cfg_scale: 30.5 }, 'body.cfg_scale', 'too_big'],
      ['an unknown seed_strategy', { seed_strategy: 'sometimes' }, 'body.seed_strategy', 'enum'],
      ['seed_strategy fixed without fixed_seed', { seed_strategy: 'fixed' }, 'body.fixed_seed', 'missing'],
      [
        'seed_strategy fixed with a null fixed_seed',
        { seed_strategy: 'fixed', fixed_seed: null },
        'body.fixed_seed',
        'missing',
      ],
      ['a negative fixed_seed', { fixed_seed: -1 }, 'body.fixed_seed', 'too_small'],
      ['fixed_seed 4294967296', { fixed_seed: 4294967296 }, 'body.fixed_seed', 'too_big'],
      ['a fractional fixed_seed', { fixed_seed: 42.5 }, 'body.fixed_seed', 'invalid_type'],
      ['width 56', { width: 56 }, 'body.width', 'too_small'],
      ['width 2056', { width: 2056 }, 'body.width', 'too_big'],
      ['width 1020 (not a multiple of 8)', { width: 1020 }, 'body.width', 'multiple_of'],
      ['height 1020 (not a multiple of 8)', { height: 1020 }, 'body.height', 'multiple_of'],
      ['height 4096', { height: 4096 }, 'body.height', 'too_big'],
      ['output_format gif', { output_format: 'gif' }, 'body.output_format', 'enum'],
      ['an adapter that is a string', { adapter: 'sdxl' }, 'body.adapter', 'invalid_type'],
      [
        '9 loras',
        { adapter: { loras: Array.from({ length: 9 }, (_, i) => ({ name: `l${i}`, weight: 1 })) } },
        'body.adapter.loras',
        'too_long',
      ],
      [
        'a lora weight of 2.1',
        { adapter: { loras: [{ name: 'l', weight: 2.1 }] } },
        'body.adapter.loras.0.weight',
        'too_big',
      ],
      [
        'a lora weight of -2.1',
        { adapter: { loras: [{ name: 'l', weight: -2.1 }] } },
        'body.adapter.loras.0.weight',
        'too_small',
      ],
      [
        'a lora without a weight',
        { adapter: { loras: [{ name: 'l' }] } },
        'body.adapter.loras.0.weight',
        'missing',
      ],
      [
        'a lora name with a colon',
        { adapter: { loras: [{ name: 'a:b', weight: 1 }] } },
        'body.adapter.loras.0.name',
        'invalid_format',
      ],
      [
        'an unknown identity_adapter',
        { adapter: { identity_adapter: 'faceswap' } },
        'body.adapter.identity_adapter',
        'enum',
      ],
      [
        'identity_strength 2.1',
        { adapter: { identity_strength: 2.1 } },
        'body.adapter.identity_strength',
        'too_big',
      ],
      [
        'a negative identity_strength',
        { adapter: { identity_strength: -0.1 } },
        'body.adapter.identity_strength',
        'too_small',
      ],
      [
        'an extra one byte over 8 KB',
        { adapter: { extra: extraOfBytes(8193) } },
        'body.adapter.extra',
        'too_large',
      ],
      ['an extra that is an array', { adapter: { extra: [1, 2] } }, 'body.adapter.extra', 'invalid_type'],
      [
        'an unknown adapter field',
        { adapter: { sampler: 'euler' } },
        'body.adapter.sampler',
        'extra_forbidden',
      ],
      [
        'an unknown storage provider',
        { storage: { provider: 'ftp', bucket: 'b' } },
        'body.storage.provider',
        'enum',
      ],
      ['storage without a bucket', { storage: { provider: 's3' } }, 'body.storage.bucket', 'missing'],
      [
        'an endpoint that is not http(s)',
        { storage: { provider: 's3', bucket: 'b', endpoint: 'ftp://files.example' } },
        'body.storage.endpoint',
        'invalid_format',
      ],
      [
        'an unknown storage field',
        { storage: { provider: 's3', bucket: 'b', acl: 'public-read' } },
        'body.storage.acl',
        'extra_forbidden',
      ],
      ['an unknown top-level field', { colour: 'blue' }, 'body.colour', 'extra_forbidden'],
    ])('refuses %s with a 422 naming the field', async (_label, fields, loc, type) => {
      const res = await create('refuses', { name: 'x', ...fields });
      const body = expectError(res, 'INVALID_PARAMETERS');
      expect(body.detail).toContainEqual({
        loc: loc.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
        msg: expect.any(String),
        type,
      });
    });

    it('after all those refusals, has stored nothing for that tenant', async () => {
      const res = await request(api.server)
        .get('/profiles/v1')
        .set('X-API-Key', await api.keyFor('refuses'));
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(0);
    });
  });
});
