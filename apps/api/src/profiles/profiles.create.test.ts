import { Profile } from '@castforge/schemas';
import {
  type ApiHarness,
  createProfileAs,
  expectError,
  locsOf,
  SEED_PROFILE_JSON,
  startApi,
} from '@castforge/testkit';
import request from 'supertest';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

describe('POST /profiles/v1', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('profiles-create');
  });
  afterAll(() => api.close());

  const create = (tenant: string, body: unknown) => createProfileAs(api, tenant, body);

  it('creates the seed profile of SPEC §2 and echoes every value under adapter_snapshot', async () => {
    const key = await api.keyFor('seed');
    const res = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', key)
      .set('Content-Type', 'application/json')
      .send(SEED_PROFILE_JSON);

    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.profile_id).toMatch(/^prof_[0-9a-f]{16}$/);
    expect(res.body).toEqual({
      profile_id: res.body.profile_id,
      name: 'Caucasian Woman',
      description: 'Reusable casting identity',
      tags: [],
      version: 1,
      adapter_snapshot: {
        prompt_template:
          'Caucasian woman, late 20s, fair porcelain skin, blonde hair, blue eyes, light natural makeup, warm expression',
        prompt_template_mode: 'suffix',
        steps: 9,
        cfg_scale: 0,
        seed_strategy: 'fixed',
        fixed_seed: 42,
        height: 1024,
        width: 1024,
        output_format: 'png',
      },
      storage: null,
      created_at: expect.stringMatching(ISO_UTC),
      updated_at: res.body.created_at,
    });
    expect(Profile.safeParse(res.body).success).toBe(true);
    expect(res.headers.etag).toBe('"1"');
    expect(res.headers.location).toBe(`/profiles/v1/${res.body.profile_id}`);

    const fetched = await request(api.server).get(res.headers.location!).set('X-API-Key', key);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(res.body);
  });

  it('with only a name, applies the defaults: no tags, suffix mode, random seeds, no description or storage', async () => {
    const res = await create('defaults', { name: 'Just a name' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Just a name',
      description: null,
      tags: [],
      version: 1,
      adapter_snapshot: { prompt_template_mode: 'suffix', seed_strategy: 'random' },
      storage: null,
    });
    expect(Object.keys(res.body.adapter_snapshot).sort()).toEqual(['prompt_template_mode', 'seed_strategy']);
  });

  it('gives every profile its own random id', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await create('ids', { name: `p${i}` })).body.profile_id);
    expect(ids.size).toBe(5);
  });

  it('saves the adapter and the storage pointer as sent and echoes them', async () => {
    const adapter = {
      model: 'sdxl-base-1.0',
      loras: [
        { name: 'film-grain', weight: -2 },
        { name: 'face-detail', weight: 2 },
      ],
      identity_adapter: 'pulid',
      identity_strength: 0.8,
      extra: { sampler: 'DPM++ 2M', nested: { list: [1, 'two', null, true], empty: {} } },
    };
    const storage = {
      provider: 'r2',
      bucket: 'casting-results',
      prefix: 'shoots/2026/',
      region: 'auto',
      endpoint: 'https://account.r2.cloudflarestorage.com',
    };
    const res = await create('adapter', { name: 'With adapter', adapter, storage });
    expect(res.status).toBe(201);
    expect(res.body.adapter_snapshot.adapter).toEqual(adapter);
    expect(res.body.storage).toEqual(storage);
  });

  describe('the 422 answer', () => {
    it('has the exact SPEC §8 shape for one bad field, message and all', async () => {
      const res = await create('shape', { name: 'x', width: 1020 });
      const body = expectError(res, 'INVALID_PARAMETERS');
      expect(body.message).toBe('width: must be a multiple of 8');
      expect(body.detail).toEqual([
        { loc: ['body', 'width'], msg: 'must be a multiple of 8', type: 'multiple_of' },
      ]);
    });

    it('names every bad field at once, each with loc ["body", field]', async () => {
      const res = await create('every', {
        name: '',
        description: 'd'.repeat(2001),
        tags: [''],
        prompt_template: 'p'.repeat(4001),
        prompt_template_mode: 'middle',
        negative_prompt: 'n'.repeat(4001),
        steps: 0,
        cfg_scale: 31,
        seed_strategy: 'fixed',
        width: 7,
        height: 4000,
        output_format: 'gif',
        adapter: { loras: [{ name: 'l', weight: 3 }], identity_strength: 5 },
        storage: { provider: 'ftp', bucket: '' },
        colour: 'blue',
      });
      const body = expectError(res, 'INVALID_PARAMETERS');
      expect(new Set(locsOf(body))).toEqual(
        new Set([
          'body.name',
          'body.description',
          'body.tags.0',
          'body.prompt_template',
          'body.prompt_template_mode',
          'body.negative_prompt',
          'body.steps',
          'body.cfg_scale',
          'body.fixed_seed',
          'body.width',
          'body.height',
          'body.output_format',
          'body.adapter.loras.0.weight',
          'body.adapter.identity_strength',
          'body.storage.provider',
          'body.storage.bucket',
          'body.colour',
        ]),
      );
      expect(body.message).toMatch(/^name: must be at least 1 character long; .*; and \d+ more$/);
    });

    it('still says fixed_seed is required when another field has the wrong type', async () => {
      const res = await create('every', { name: 'x', seed_strategy: 'fixed', width: 'wide' });
      const body = expectError(res, 'INVALID_PARAMETERS');
      expect(body.detail).toEqual([
        { loc: ['body', 'width'], msg: 'must be a number, not a string', type: 'invalid_type' },
        { loc: ['body', 'fixed_seed'], msg: 'is required when seed_strategy is fixed', type: 'missing' },
      ]);
    });

    it('says what type was sent rather than calling a wrongly typed field missing', async () => {
      const res = await create('every', { name: 'x', steps: '9', tags: 'a', adapter: [] });
      const body = expectError(res, 'INVALID_PARAMETERS');
      expect(body.detail.map((d) => `${d.loc.join('.')}: ${d.msg}`)).toEqual([
        'body.tags: must be an array, not a string',
        'body.steps: must be a number, not a string',
        'body.adapter: must be an object, not an array',
      ]);
    });
  });
});
