import { profileModels } from '@castforge/core';
import { type ApiHarness, createProfileAs, expectError, locsOf, startApi } from '@castforge/testkit';
import request from 'supertest';

const NEVER_SENT = /never sent to the API/;

describe('zero data retention on /profiles/v1', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('profiles-secrets');
  });
  afterAll(() => api.close());

  const create = (tenant: string, body: unknown) => createProfileAs(api, tenant, body);
  const bucket = { provider: 's3', bucket: 'casting' };

  it.each<[string, Record<string, unknown>, string]>([
    [
      'storage.access_key_id',
      { storage: { ...bucket, access_key_id: 'AKIAEXAMPLE' } },
      'body.storage.access_key_id',
    ],
    [
      'storage.secret_access_key',
      { storage: { ...bucket, secret_access_key: 's3cr3t' } },
      'body.storage.secret_access_key',
    ],
    [
      'storage.accessKeyId',
      { storage: { ...bucket, accessKeyId: 'AKIAEXAMPLE' } },
      'body.storage.accessKeyId',
    ],
    [
      'storage.secretAccessKey',
      { storage: { ...bucket, secretAccessKey: 's3cr3t' } },
      'body.storage.secretAccessKey',
    ],
    ['storage.session_token', { storage: { ...bucket, session_token: 'tok' } }, 'body.storage.session_token'],
    ['storage.sas_token', { storage: { ...bucket, sas_token: 'sv=2024&sig=abc' } }, 'body.storage.sas_token'],
    ['storage.password', { storage: { ...bucket, password: 'hunter2' } }, 'body.storage.password'],
    [
      'storage.credentials',
      { storage: { ...bucket, credentials: { type: 'service_account' } } },
      'body.storage.credentials',
    ],
    [
      'storage.encryption_key',
      { storage: { ...bucket, encryption_key: 'base64==' } },
      'body.storage.encryption_key',
    ],
    [
      'storage.sse_customer_key',
      { storage: { ...bucket, sse_customer_key: 'base64==' } },
      'body.storage.sse_customer_key',
    ],
    ['storage.client_secret', { storage: { ...bucket, client_secret: 'x' } }, 'body.storage.client_secret'],
    [
      'storage.connectionString',
      { storage: { ...bucket, connectionString: 'AccountKey=x' } },
      'body.storage.connectionString',
    ],
    [
      'storage.private_key',
      { storage: { ...bucket, private_key: '-----BEGIN' } },
      'body.storage.private_key',
    ],
    ['a top-level api_key', { api_key: 'sk-live' }, 'body.api_key'],
    ['a top-level token', { token: 'abc' }, 'body.token'],
    ['adapter.extra.hf_token', { adapter: { extra: { hf_token: 'hf_abc' } } }, 'body.adapter.extra.hf_token'],
    ['adapter.extra.api_key', { adapter: { extra: { api_key: 'sk-abc' } } }, 'body.adapter.extra.api_key'],
    [
      'a secret deep inside adapter.extra',
      { adapter: { extra: { a: { b: { c: { secret: 'x' } } } } } },
      'body.adapter.extra.a.b.c.secret',
    ],
    [
      'a credential inside an array in adapter.extra',
      { adapter: { extra: { hooks: [{}, { Authorization: 'Bearer x' }] } } },
      'body.adapter.extra.hooks.1.Authorization',
    ],
    [
      'a storage endpoint with user:password',
      { storage: { ...bucket, endpoint: 'https://user:pass@minio.example' } },
      'body.storage.endpoint',
    ],
    [
      'a storage endpoint with a signature in its query',
      { storage: { ...bucket, endpoint: 'https://acct.blob.core.windows.net/?sv=2024&sig=abc' } },
      'body.storage.endpoint',
    ],
  ])('refuses %s with a 422 saying keys are never sent to the API', async (_label, fields, loc) => {
    const res = await create('refused', { name: 'x', ...fields });
    const body = expectError(res, 'INVALID_PARAMETERS');
    expect(locsOf(body)).toEqual([loc]);
    expect(body.message).toMatch(NEVER_SENT);
    expect(body.detail[0]!.msg).toMatch(NEVER_SENT);
    expect(body.detail[0]!.type).toBe('secret_refused');
  });

  it('names every secret field and every other bad field in one answer', async () => {
    const res = await create('refused', {
      name: '',
      width: 7,
      storage: { ...bucket, access_key_id: 'AKIA', secret_access_key: 's3cr3t' },
      adapter: { extra: { token: 't' } },
    });
    const body = expectError(res, 'INVALID_PARAMETERS');
    expect(locsOf(body)).toEqual([
      'body.storage.access_key_id',
      'body.storage.secret_access_key',
      'body.adapter.extra.token',
      'body.name',
      'body.width',
      'body.width',
    ]);
    expect(body.message).toMatch(/^storage\.access_key_id: .*never sent to the API/);
  });

  it('stores nothing of a refused request anywhere in MongoDB', async () => {
    const secret = 'do-not-keep-7c1e9f';
    const res = await create('retention', {
      name: 'Leaky',
      storage: { ...bucket, secret_access_key: secret },
      adapter: { extra: { api_key: secret } },
    });
    expect(res.status).toBe(422);
    // The embedded server has no listCollections, so the collections the API writes are named here.
    const { Profile, ProfileVersion } = profileModels(api.deps.mongo);
    const stored = [...(await Profile.find({}).lean()), ...(await ProfileVersion.find({}).lean())];
    expect(JSON.stringify(stored)).not.toContain(secret);
  });

  it('refuses a secret in a PATCH and leaves the profile unchanged', async () => {
    const created = await create('patch', { name: 'Clean', storage: bucket });
    const key = await api.keyFor('patch');
    const res = await request(api.server)
      .patch(`/profiles/v1/${created.body.profile_id}`)
      .set('X-API-Key', key)
      .send({ storage: { ...bucket, secret_access_key: 'x' } });
    const body = expectError(res, 'INVALID_PARAMETERS');
    expect(body.message).toMatch(NEVER_SENT);
    const after = await request(api.server)
      .get(`/profiles/v1/${created.body.profile_id}`)
      .set('X-API-Key', key);
    expect(after.body).toEqual(created.body);
  });

  it.each([
    ['keywords', { keywords: ['portrait'] }],
    ['tokenizer', { tokenizer: 'clip-l' }],
    ['keyframe_interval', { keyframe_interval: 4 }],
    ['monkey_patch', { monkey_patch: false }],
    ['passage', { passage: 'text' }],
    ['author', { author: 'me' }],
  ])('accepts the harmless name %s in adapter.extra', async (_name, extra) => {
    const res = await create('harmless', { name: 'x', adapter: { extra } });
    expect(res.status).toBe(201);
    expect(res.body.adapter_snapshot.adapter.extra).toEqual(extra);
  });

  it('refuses a secret-sounding name even when its value is a number (token_merging_ratio), erring towards refusal', async () => {
    const res = await create('harmless', { name: 'x', adapter: { extra: { token_merging_ratio: 0.5 } } });
    const body = expectError(res, 'INVALID_PARAMETERS');
    expect(locsOf(body)).toEqual(['body.adapter.extra.token_merging_ratio']);
  });
});
