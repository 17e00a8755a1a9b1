import { type ApiHarness, expectError, startApi, namesOf } from '@castforge/testkit';
import request from 'supertest';

describe('tenant isolation of /profiles/v1', () => {
  let api: ApiHarness;
  let keyA: string;
  let keyB: string;
  let idA: string;
  const unknownId = 'prof_0123456789abcdef';

  beforeAll(async () => {
    api = await startApi('profiles-tenancy');
    keyA = await api.keyFor('studio-a');
    keyB = await api.keyFor('studio-b');
    const created = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', keyA)
      .send({ name: 'Owned by A', tags: ['shared-tag'] });
    expect(created.status).toBe(201);
    idA = created.body.profile_id;
    const other = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', keyB)
      .send({ name: 'Owned by B', tags: ['shared-tag'] });
    expect(other.status).toBe(201);
  });
  afterAll(() => api.close());

  /** The same request for A's id and for an id nobody has, both as tenant B. */
  async function asBoth(send: (id: string) => request.Test) {
    const foreign = await send(idA);
    const unknown = await send(unknownId);
    const foreignBody = expectError(foreign, 'NOT_FOUND');
    const unknownBody = expectError(unknown, 'NOT_FOUND');
    // Nothing in the answer tells a foreign id from an unknown one: same status, code, detail, message.
    expect(foreignBody.message.replace(idA, '<id>')).toBe(unknownBody.message.replace(unknownId, '<id>'));
    expect(foreignBody.detail).toEqual(unknownBody.detail);
    expect(Object.keys(foreign.headers).sort()).toEqual(Object.keys(unknown.headers).sort());
  }

  it("answers 404 to GET of another tenant's profile, exactly as for an unknown id", async () => {
    await asBoth((id) => request(api.server).get(`/profiles/v1/${id}`).set('X-API-Key', keyB));
  });

  it("answers 404 to PATCH of another tenant's profile and leaves it unchanged", async () => {
    await asBoth((id) =>
      request(api.server).patch(`/profiles/v1/${id}`).set('X-API-Key', keyB).send({ name: 'Hijacked' }),
    );
    await asBoth((id) =>
      request(api.server)
        .patch(`/profiles/v1/${id}`)
        .set('X-API-Key', keyB)
        .set('If-Match', '"1"')
        .send({ name: 'Hijacked' }),
    );
    const own = await request(api.server).get(`/profiles/v1/${idA}`).set('X-API-Key', keyA);
    expect(own.body).toMatchObject({ name: 'Owned by A', version: 1 });
  });

  it("answers 404 to reading a version of another tenant's profile", async () => {
    await asBoth((id) => request(api.server).get(`/profiles/v1/${id}/versions/1`).set('X-API-Key', keyB));
  });

  it("answers 404 to DELETE of another tenant's profile and leaves it in place", async () => {
    await asBoth((id) => request(api.server).delete(`/profiles/v1/${id}`).set('X-API-Key', keyB));
    const own = await request(api.server).get(`/profiles/v1/${idA}`).set('X-API-Key', keyA);
    expect(own.status).toBe(200);
  });

  it("never lists another tenant's profiles, nor counts them in total, with or without a tag", async () => {
    for (const query of ['', '?tag=shared-tag', '?limit=100']) {
      const listB = await request(api.server).get(`/profiles/v1${query}`).set('X-API-Key', keyB);
      expect(listB.status).toBe(200);
      expect(listB.body.total).toBe(1);
      expect(namesOf(listB.body)).toEqual(['Owned by B']);

      const listA = await request(api.server).get(`/profiles/v1${query}`).set('X-API-Key', keyA);
      expect(namesOf(listA.body)).toEqual(['Owned by A']);
    }
  });

  it("does not let a cursor from one tenant's list reveal another tenant's profiles", async () => {
    const key = await api.keyFor('studio-c');
    for (const name of ['c1', 'c2']) {
      await request(api.server).post('/profiles/v1').set('X-API-Key', key).send({ name });
    }
    const first = await request(api.server).get('/profiles/v1?limit=1').set('X-API-Key', key);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const asB = await request(api.server)
      .get(`/profiles/v1?cursor=${encodeURIComponent(first.body.next_cursor)}`)
      .set('X-API-Key', keyB);
    expect(asB.status).toBe(200);
    expect(namesOf(asB.body).every((name) => name === 'Owned by B')).toBe(true);
  });
});
