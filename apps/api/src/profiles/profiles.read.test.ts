import { type ApiHarness, expectError, locsOf, startApi, idsOf, namesOf } from '@castforge/testkit';
import request from 'supertest';

/** Resolves once the clock has moved on, so that profiles created one after another differ in created_at. */
async function nextMillisecond(): Promise<void> {
  const start = Date.now();
  const deadline = start + 1000;
  while (Date.now() === start && Date.now() < deadline) await new Promise((r) => setImmediate(r));
}

describe('reading profiles', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('profiles-read');
  });
  afterAll(() => api.close());

  /** Creates profiles in this order and returns their ids, oldest first. */
  async function createProfiles(tenant: string, bodies: Record<string, unknown>[]): Promise<string[]> {
    const key = await api.keyFor(tenant);
    const ids: string[] = [];
    for (const body of bodies) {
      await nextMillisecond();
      const res = await request(api.server).post('/profiles/v1').set('X-API-Key', key).send(body);
      expect(res.status).toBe(201);
      ids.push(res.body.profile_id);
    }
    return ids;
  }

  const list = async (tenant: string, query = '') =>
    request(api.server)
      .get(`/profiles/v1${query}`)
      .set('X-API-Key', await api.keyFor(tenant));

  describe('GET /profiles/v1/:profile_id', () => {
    it('answers the profile with its version as ETag', async () => {
      const [id] = await createProfiles('get-one', [{ name: 'Alice', tags: ['lead'], steps: 20 }]);
      const res = await request(api.server)
        .get(`/profiles/v1/${id}`)
        .set('X-API-Key', await api.keyFor('get-one'));
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe('"1"');
      expect(res.body).toMatchObject({
        profile_id: id,
        name: 'Alice',
        tags: ['lead'],
        version: 1,
        adapter_snapshot: { steps: 20 },
      });
    });

    it('answers 404 NOT_FOUND for a well-formed id that does not exist', async () => {
      const res = await request(api.server)
        .get('/profiles/v1/prof_0000000000000000')
        .set('X-API-Key', await api.keyFor('get-one'));
      const body = expectError(res, 'NOT_FOUND');
      expect(body.detail).toEqual([]);
    });
  });

  describe('GET /profiles/v1', () => {
    it('with no profiles, answers an empty page', async () => {
      const res = await list('empty');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ profiles: [], next_cursor: null, total: 0 });
    });

    it('lists newest first, each profile as GET shows it', async () => {
      const ids = await createProfiles('newest', [{ name: 'first' }, { name: 'second' }, { name: 'third' }]);
      const res = await list('newest');
      expect(res.status).toBe(200);
      expect(idsOf(res.body)).toEqual([...ids].reverse());
      expect(namesOf(res.body)).toEqual(['third', 'second', 'first']);
      expect(res.body.next_cursor).toBeNull();
      expect(res.body.total).toBe(3);

      const one = await request(api.server)
        .get(`/profiles/v1/${ids[0]}`)
        .set('X-API-Key', await api.keyFor('newest'));
      expect(res.body.profiles[2]).toEqual(one.body);
    });

    it('pages through more than one page with next_cursor, null on the last, total on every page', async () => {
      const ids = await createProfiles(
        'pages',
        Array.from({ length: 5 }, (_, i) => ({ name: `p${i}` })),
      );
      const seen: string[] = [];
      const pages: number[] = [];
      let cursor: string | null = null;
      do {
        const res = await list('pages', `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(res.status).toBe(200);
        expect(res.body.total).toBe(5);
        pages.push(res.body.profiles.length);
        seen.push(...idsOf(res.body));
        cursor = res.body.next_cursor;
      } while (cursor !== null && pages.length < 10);
      expect(pages).toEqual([2, 2, 1]);
      expect(seen).toEqual([...ids].reverse());
    });

    it('ends with next_cursor null when the last page is exactly full', async () => {
      await createProfiles('exact', [{ name: 'a' }, { name: 'b' }]);
      const res = await list('exact', '?limit=2');
      expect(res.body.profiles).toHaveLength(2);
      expect(res.body.next_cursor).toBeNull();
    });

    it('shows 20 profiles by default and at most 100', async () => {
      await createProfiles(
        'default-limit',
        Array.from({ length: 21 }, (_, i) => ({ name: `p${i}` })),
      );
      const byDefault = await list('default-limit');
      expect(byDefault.body.profiles).toHaveLength(20);
      expect(byDefault.body.next_cursor).toEqual(expect.any(String));
      expect(byDefault.body.total).toBe(21);

      const rest = await list('default-limit', `?cursor=${encodeURIComponent(byDefault.body.next_cursor)}`);
      expect(rest.body.profiles).toHaveLength(1);
      expect(rest.body.next_cursor).toBeNull();

      const max = await list('default-limit', '?limit=100');
      expect(max.status).toBe(200);
      expect(max.body.profiles).toHaveLength(21);
    });

    it('filters by tag, with total counting only the profiles that carry it', async () => {
      const [both, onlyB] = await createProfiles('tags', [
        { name: 'both', tags: ['a', 'b'] },
        { name: 'only b', tags: ['b'] },
        { name: 'none' },
      ]);
      const b = await list('tags', '?tag=b');
      expect(b.status).toBe(200);
      expect(idsOf(b.body)).toEqual([onlyB, both]);
      expect(b.body.total).toBe(2);

      const a = await list('tags', '?tag=a&limit=1');
      expect(idsOf(a.body)).toEqual([both]);
      expect(a.body.next_cursor).toBeNull();

      const unknown = await list('tags', '?tag=zzz');
      expect(unknown.body).toEqual({ profiles: [], next_cursor: null, total: 0 });
    });

    const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    it.each([
      ['limit 0', 'limit=0', 'query.limit'],
      ['limit 101', 'limit=101', 'query.limit'],
      ['a limit that is not a number', 'limit=abc', 'query.limit'],
      ['a fractional limit', 'limit=1.5', 'query.limit'],
      ['a negative limit', 'limit=-1', 'query.limit'],
      ['an empty limit', 'limit=', 'query.limit'],
      ['limit given twice', 'limit=1&limit=2', 'query.limit'],
      ['a cursor this API never returned', 'cursor=not-a-cursor', 'query.cursor'],
      ['an empty cursor', 'cursor=', 'query.cursor'],
      ['a cursor of the wrong shape', `cursor=${cursorOf({ t: 'yesterday', id: 1 })}`, 'query.cursor'],
      [
        'a cursor whose time is out of range',
        `cursor=${cursorOf({ t: 1e300, id: 'prof_0000000000000000' })}`,
        'query.cursor',
      ],
      ['a 65-character tag', `tag=${'x'.repeat(65)}`, 'query.tag'],
      ['an unknown parameter', 'colour=blue', 'query.colour'],
      ['an operator smuggled into tag', 'tag[$ne]=x', 'query.tag[$ne]'],
    ])('answers 422 naming the parameter for %s', async (_label, query, loc) => {
      const res = await list('bad-query', `?${query}`);
      const body = expectError(res, 'INVALID_PARAMETERS');
      expect(locsOf(body)).toEqual([loc]);
    });
  });
});
