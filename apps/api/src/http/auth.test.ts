import { type ApiHarness, expectError, startApi } from '@castforge/testkit';
import request from 'supertest';

describe('X-API-Key authentication', () => {
  let api: ApiHarness;
  let profileId: string;
  beforeAll(async () => {
    api = await startApi('auth');
    const created = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', await api.keyFor('auth-owner'))
      .send({ name: 'Guarded' });
    profileId = created.body.profile_id;
  });
  afterAll(() => api.close());

  const routes = (): [string, (key?: string) => request.Test][] => {
    const withKey = (req: request.Test, key?: string) =>
      key === undefined ? req : req.set('X-API-Key', key);
    return [
      [
        'POST /profiles/v1',
        (key) => withKey(request(api.server).post('/profiles/v1'), key).send({ name: 'x' }),
      ],
      ['GET /profiles/v1', (key) => withKey(request(api.server).get('/profiles/v1'), key)],
      [
        'GET /profiles/v1/:profile_id',
        (key) => withKey(request(api.server).get(`/profiles/v1/${profileId}`), key),
      ],
      [
        'PATCH /profiles/v1/:profile_id',
        (key) => withKey(request(api.server).patch(`/profiles/v1/${profileId}`), key).send({ name: 'x' }),
      ],
      [
        'DELETE /profiles/v1/:profile_id',
        (key) => withKey(request(api.server).delete(`/profiles/v1/${profileId}`), key),
      ],
      [
        'GET /profiles/v1/:profile_id/versions/:version',
        (key) => withKey(request(api.server).get(`/profiles/v1/${profileId}/versions/1`), key),
      ],
    ];
  };

  it.each(routes())(
    '%s without a key answers 401 UNAUTHORIZED in the SPEC §8 shape',
    async (_route, call) => {
      const body = expectError(await call(), 'UNAUTHORIZED');
      expect(body.message).toMatch(/X-API-Key/);
      expect(body.detail).toEqual([]);
    },
  );

  it.each(routes())('%s with an unknown key answers 401', async (_route, call) => {
    expectError(await call('cfk_this-key-was-never-issued'), 'UNAUTHORIZED');
  });

  it.each([
    ['an empty key', ''],
    ['a key of whitespace', '   '],
    ['a 10 KB key', 'k'.repeat(10 * 1024)],
    ['a key with a NUL-like escape', 'cfk_%00'],
    ['a key issued to someone, with one character changed', 'MUTATED'],
  ])('answers 401 for %s', async (_label, key) => {
    let sent = key;
    if (key === 'MUTATED') {
      const real = await api.keyFor('auth-owner');
      sent = real.slice(0, -1) + (real.endsWith('a') ? 'b' : 'a');
    }
    const res = await request(api.server).get('/profiles/v1').set('X-API-Key', sent);
    expectError(res, 'UNAUTHORIZED');
  });

  it('does not take the key from Authorization: Bearer or from the query string', async () => {
    const key = await api.keyFor('auth-owner');
    expectError(
      await request(api.server).get('/profiles/v1').set('Authorization', `Bearer ${key}`),
      'UNAUTHORIZED',
    );
    expectError(await request(api.server).get(`/profiles/v1?api_key=${key}`), 'UNAUTHORIZED');
  });

  it('checks the key before the body: a bad body without a key is a 401, not a 422', async () => {
    const res = await request(api.server).post('/profiles/v1').send({ name: '', width: 7 });
    expectError(res, 'UNAUTHORIZED');
  });

  it('stops accepting a key once it is revoked, while the tenant’s other keys keep working', async () => {
    const revoked = await api.deps.keys.create('auth-revoke', 'to revoke');
    const kept = await api.deps.keys.create('auth-revoke', 'to keep');
    const before = await request(api.server).get('/profiles/v1').set('X-API-Key', revoked.api_key);
    expect(before.status).toBe(200);

    expect(await api.deps.keys.revoke(revoked.key_id)).toBe(true);
    const after = await request(api.server).get('/profiles/v1').set('X-API-Key', revoked.api_key);
    const body = expectError(after, 'UNAUTHORIZED');
    expect(body.message).not.toContain(revoked.api_key);

    const other = await request(api.server).get('/profiles/v1').set('X-API-Key', kept.api_key);
    expect(other.status).toBe(200);
  });

  it('accepts the header name in any case', async () => {
    const key = await api.keyFor('auth-owner');
    const res = await request(api.server).get('/profiles/v1').set('x-api-key', key);
    expect(res.status).toBe(200);
  });

  it.each(['/healthz', '/readyz', '/metrics', '/openapi.json'])('%s needs no key', async (path) => {
    const res = await request(api.server).get(path);
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toEqual(expect.any(String));
  });
});
