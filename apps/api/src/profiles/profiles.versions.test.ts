import { type Profile } from '@castforge/schemas';
import { type ApiHarness, expectError, startApi, idsOf } from '@castforge/testkit';
import request from 'supertest';

describe('profile versions and deletion', () => {
  let api: ApiHarness;
  let key: string;
  beforeAll(async () => {
    api = await startApi('profiles-versions');
    key = await api.keyFor('versions');
  });
  afterAll(() => api.close());

  async function createProfile(body: Record<string, unknown>): Promise<Profile> {
    const res = await request(api.server).post('/profiles/v1').set('X-API-Key', key).send(body);
    expect(res.status).toBe(201);
    return res.body as Profile;
  }
  const patch = (id: string, body: object) =>
    request(api.server).patch(`/profiles/v1/${id}`).set('X-API-Key', key).send(body);
  const get = (path: string) => request(api.server).get(path).set('X-API-Key', key);
  const remove = (id: string, ifMatch?: string) => {
    const req = request(api.server).delete(`/profiles/v1/${id}`).set('X-API-Key', key);
    return ifMatch === undefined ? req : req.set('If-Match', ifMatch);
  };

  describe('GET /profiles/v1/:profile_id/versions/:version', () => {
    it('returns each old snapshot exactly as it was after later PATCHes', async () => {
      const v1 = await createProfile({ name: 'Before', steps: 10, seed_strategy: 'fixed', fixed_seed: 1 });
      const id = v1.profile_id;
      const v2 = (await patch(id, { name: 'Middle', steps: 20 })).body;
      const v3 = (await patch(id, { name: 'After', fixed_seed: 3, tags: ['x'] })).body;

      const old1 = await get(`/profiles/v1/${id}/versions/1`);
      expect(old1.status).toBe(200);
      expect(old1.body).toEqual(v1);
      expect(old1.headers.etag).toBe('"1"');
      expect((await get(`/profiles/v1/${id}/versions/2`)).body).toEqual(v2);
      expect((await get(`/profiles/v1/${id}/versions/3`)).body).toEqual(v3);
      expect((await get(`/profiles/v1/${id}`)).body).toEqual(v3);
    });

    it('keeps a version unchanged however often the profile changes afterwards', async () => {
      const v1 = await createProfile({ name: 'Pinned', prompt_template: 'red hair' });
      const id = v1.profile_id;
      for (const colour of ['black', 'brown', 'grey']) await patch(id, { prompt_template: `${colour} hair` });
      const old = await get(`/profiles/v1/${id}/versions/1`);
      expect(old.body.adapter_snapshot.prompt_template).toBe('red hair');
      expect(old.body.version).toBe(1);
    });

    it.each([
      ['a version after the current one', '2'],
      ['version 0', '0'],
      ['a negative version', '-1'],
      ['a version that is not a number', 'latest'],
      ['a fractional version', '1.0'],
      ['a hexadecimal version', '0x1'],
      ['an exponent', '1e0'],
      ['a version too large for any profile', '99999999999999999999'],
    ])('answers 404 for %s', async (_label, version) => {
      const { profile_id } = await createProfile({ name: 'One version' });
      expectError(await get(`/profiles/v1/${profile_id}/versions/${version}`), 'NOT_FOUND');
    });

    it('answers 404 for a profile that does not exist', async () => {
      expectError(await get('/profiles/v1/prof_0000000000000000/versions/1'), 'NOT_FOUND');
    });
  });

  describe('DELETE /profiles/v1/:profile_id', () => {
    it('answers 204 with no body, after which GET, PATCH, DELETE and versions answer 404', async () => {
      const { profile_id: id } = await createProfile({ name: 'Doomed' });
      await patch(id, { steps: 5 });
      const res = await remove(id);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');

      expectError(await get(`/profiles/v1/${id}`), 'NOT_FOUND');
      expectError(await patch(id, { name: 'Back' }), 'NOT_FOUND');
      expectError(await get(`/profiles/v1/${id}/versions/1`), 'NOT_FOUND');
      expectError(await get(`/profiles/v1/${id}/versions/2`), 'NOT_FOUND');
      expectError(await remove(id), 'NOT_FOUND');
    });

    it('takes the profile out of the list and its total', async () => {
      const tenantKey = await api.keyFor('delete-list');
      const create = (name: string) =>
        request(api.server)
          .post('/profiles/v1')
          .set('X-API-Key', tenantKey)
          .send({ name, tags: ['cast'] });
      const keep = (await create('keep')).body.profile_id;
      const drop = (await create('drop')).body.profile_id;
      expect(
        (await request(api.server).delete(`/profiles/v1/${drop}`).set('X-API-Key', tenantKey)).status,
      ).toBe(204);

      for (const query of ['', '?tag=cast']) {
        const list = await request(api.server).get(`/profiles/v1${query}`).set('X-API-Key', tenantKey);
        expect(list.body.total).toBe(1);
        expect(idsOf(list.body)).toEqual([keep]);
      }
    });

    it('with a stale If-Match, answers 412 and keeps the profile', async () => {
      const { profile_id: id } = await createProfile({ name: 'Guarded' });
      await patch(id, { steps: 5 });
      expectError(await remove(id, '"1"'), 'PRECONDITION_FAILED');
      expect((await get(`/profiles/v1/${id}`)).status).toBe(200);
      expect((await remove(id, '"2"')).status).toBe(204);
    });

    it('answers 404 for a profile that does not exist', async () => {
      expectError(await remove('prof_0000000000000000'), 'NOT_FOUND');
    });
  });
});
