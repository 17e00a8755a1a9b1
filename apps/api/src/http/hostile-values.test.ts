import {
  type ApiHarness,
  expectError,
  locsOf,
  rawSenderFor,
  startApi,
  type HttpAnswer,
} from '@castforge/testkit';
import request from 'supertest';

describe('hostile values in bodies and paths', () => {
  let api: ApiHarness;
  let key: string;
  let profileId: string;
  beforeAll(async () => {
    api = await startApi('hostile-values');
    key = await api.keyFor('hostile-values');
    const created = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', key)
      .send({ name: 'Target' });
    profileId = created.body.profile_id;
  });
  afterAll(() => api.close());

  /** POSTs (or PATCHes) these exact bytes with these headers. */
  const send: ReturnType<typeof rawSenderFor> = (...args) => rawSenderFor(api, key)(...args);
  const deep = (levels: number, inner = '1') => '['.repeat(levels) + inner + ']'.repeat(levels);

  describe('deeply nested JSON', () => {
    it.each([
      ['10,000 levels in an unknown field', `{"name":"x","junk":${deep(10_000)}}`, 'body.junk'],
      [
        '10,000 levels in adapter.extra',
        `{"name":"x","adapter":{"extra":{"a":${deep(10_000)}}}}`,
        'body.adapter.extra.a',
      ],
      ['10,000 levels in tags', `{"name":"x","tags":${deep(10_000, '"t"')}}`, 'body.tags'],
      [
        '100,000 levels of objects',
        `{"name":"x","junk":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`,
        'body.junk',
      ],
      [
        '40 levels in adapter.extra',
        `{"name":"x","adapter":{"extra":{"a":${deep(40)}}}}`,
        'body.adapter.extra.a',
      ],
    ])('answers 422 for %s, naming where it became too deep', async (_label, body, prefix) => {
      const error = expectError(await send(body), 'INVALID_PARAMETERS');
      expect(error.detail).toHaveLength(1);
      expect(error.detail[0]!.type).toBe('too_deep');
      expect(error.detail[0]!.loc.join('.').startsWith(prefix)).toBe(true);
    });

    it('accepts 20 levels of nesting in adapter.extra and echoes them', async () => {
      const extra = { a: JSON.parse(deep(20)) as unknown };
      const res = await send(JSON.stringify({ name: 'x', adapter: { extra } }));
      expect(res.status).toBe(201);
      expect((res.body as { adapter_snapshot: unknown }).adapter_snapshot).toMatchObject({
        adapter: { extra },
      });
    });
  });

  describe('prototype and operator keys', () => {
    it('refuses a top-level __proto__ and pollutes nothing', async () => {
      const error = expectError(
        await send('{"name":"x","__proto__":{"polluted":true}}'),
        'INVALID_PARAMETERS',
      );
      expect(locsOf(error)).toEqual(['body.__proto__']);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('refuses __proto__ inside adapter.extra rather than dropping it silently', async () => {
      const res = await send('{"name":"x","adapter":{"extra":{"ok":1,"__proto__":{"polluted":true}}}}');
      const error = expectError(res, 'INVALID_PARAMETERS');
      expect(locsOf(error)).toEqual(['body.adapter.extra.__proto__']);
      expect(error.detail[0]!.type).toBe('invalid_key');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('refuses constructor as an unknown top-level field', async () => {
      const error = expectError(
        await send('{"name":"x","constructor":{"prototype":{"polluted":true}}}'),
        'INVALID_PARAMETERS',
      );
      expect(locsOf(error)).toEqual(['body.constructor']);
    });

    it('keeps constructor and prototype as ordinary names inside adapter.extra', async () => {
      const extra = { constructor: { prototype: { polluted: true } }, toString: 'x' };
      const res = await send(JSON.stringify({ name: 'x', adapter: { extra } }));
      expect(res.status).toBe(201);
      expect((res.body as { adapter_snapshot: { adapter: unknown } }).adapter_snapshot.adapter).toEqual({
        extra,
      });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it.each([
      ['a MongoDB operator', '{"$set":{"version":99}}', 'body.adapter.extra.$set'],
      ['a nested operator', '{"a":{"$gt":1}}', 'body.adapter.extra.a.$gt'],
      ['a NUL byte in a key', '{"a\\u0000b":1}', 'body.adapter.extra.a\u0000b'],
    ])('refuses %s as a key in adapter.extra, on POST and on PATCH', async (_label, extra, loc) => {
      const posted = expectError(
        await send(`{"name":"x","adapter":{"extra":${extra}}}`),
        'INVALID_PARAMETERS',
      );
      expect(locsOf(posted)).toEqual([loc]);
      const patched = await send(
        `{"adapter":{"extra":${extra}}}`,
        undefined,
        'PATCH',
        `/profiles/v1/${profileId}`,
      );
      expect(locsOf(expectError(patched, 'INVALID_PARAMETERS'))).toEqual([loc]);
    });

    it('keeps dotted keys in adapter.extra through POST and PATCH', async () => {
      const created = await send('{"name":"x","adapter":{"extra":{"a.b":1}}}');
      expect(created.status).toBe(201);
      const id = (created.body as { profile_id: string }).profile_id;
      const patched = await send('{"adapter":{"extra":{"c.d":2}}}', undefined, 'PATCH', `/profiles/v1/${id}`);
      expect(patched.status).toBe(200);
      expect((patched.body as { adapter_snapshot: unknown }).adapter_snapshot).toMatchObject({
        adapter: { extra: { 'c.d': 2 } },
      });
    });
  });

  describe('numbers', () => {
    it.each<[string, string, string, string]>([
      ['1e400 for steps', '"steps":1e400', 'body.steps', 'must be a finite number'],
      ['-1e400 for cfg_scale', '"cfg_scale":-1e400', 'body.cfg_scale', 'must be a finite number'],
      ['1e308 for cfg_scale', '"cfg_scale":1e308', 'body.cfg_scale', 'must be at most 30'],
      ['1e20 for fixed_seed', '"fixed_seed":1e20', 'body.fixed_seed', 'must be at most 4294967295'],
      ['a float for steps', '"steps":9.5', 'body.steps', 'must be an integer, not a fractional number'],
      ['a float for width', '"width":512.5', 'body.width', 'must be an integer, not a fractional number'],
      [
        'a float for fixed_seed',
        '"fixed_seed":42.000001',
        'body.fixed_seed',
        'must be an integer, not a fractional number',
      ],
      ['-0 for steps', '"steps":-0', 'body.steps', 'must be at least 1'],
      ['a numeric string for width', '"width":"1024"', 'body.width', 'must be a number, not a string'],
      ['a boolean for cfg_scale', '"cfg_scale":true', 'body.cfg_scale', 'must be a number, not a boolean'],
    ])('answers 422 for %s', async (_label, field, loc, msg) => {
      const error = expectError(await send(`{"name":"x",${field}}`), 'INVALID_PARAMETERS');
      expect(locsOf(error).every((l) => l === loc)).toBe(true);
      expect(error.detail.map((d) => d.msg)).toContain(msg);
    });

    it('accepts -0 where 0 is allowed and echoes it as 0', async () => {
      const res = await send('{"name":"x","cfg_scale":-0,"seed_strategy":"fixed","fixed_seed":-0}');
      expect(res.status).toBe(201);
      expect((res.body as { adapter_snapshot: unknown }).adapter_snapshot).toMatchObject({
        cfg_scale: 0,
        fixed_seed: 0,
      });
    });

    it('accepts 1.0 as the integer 1 and 1e3 as 1000', async () => {
      const res = await send('{"name":"x","steps":1.0,"width":1.024e3}');
      expect(res.status).toBe(201);
      expect((res.body as { adapter_snapshot: unknown }).adapter_snapshot).toMatchObject({
        steps: 1,
        width: 1024,
      });
    });
  });

  describe('strings', () => {
    it('keeps NUL bytes, emoji and right-to-left text exactly as sent', async () => {
      const name = 'a\u0000b 👩🏽‍🎤 مرحبا';
      const res = await send(JSON.stringify({ name, tags: ['🎬', 'x\u0000y'], description: '\u202Eevil' }));
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ name, tags: ['🎬', 'x\u0000y'], description: '\u202Eevil' });
      const fetched = await request(api.server)
        .get(`/profiles/v1/${(res.body as { profile_id: string }).profile_id}`)
        .set('X-API-Key', key);
      expect(fetched.body.name).toBe(name);
    });

    it('answers a lone surrogate with a 2xx, never a 5xx', async () => {
      const res = await send('{"name":"\\ud800"}');
      expect(res.status).toBe(201);
    });
  });

  describe('fields', () => {
    it('answers 422 naming every unknown field, at any depth', async () => {
      const body = JSON.stringify({
        name: 'x',
        colour: 'blue',
        adapter: { sampler: 'euler', loras: [{ name: 'l', weight: 1, scale: 2 }] },
        storage: { provider: 's3', bucket: 'b', acl: 'public' },
      });
      const error = expectError(await send(body), 'INVALID_PARAMETERS');
      expect(new Set(locsOf(error))).toEqual(
        new Set(['body.colour', 'body.adapter.sampler', 'body.adapter.loras.0.scale', 'body.storage.acl']),
      );
      expect(error.detail.every((d) => d.type === 'extra_forbidden' && d.msg === 'unknown field')).toBe(true);
    });

    it('takes the last of duplicate keys, as JSON.parse does', async () => {
      const res = await send('{"name":"first","name":"second","steps":0,"steps":5}');
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ name: 'second', adapter_snapshot: { steps: 5 } });
    });
  });

  describe('methods', () => {
    it('answers PUT on a profile, which the API does not offer, with a 405 naming the methods it takes', async () => {
      const res = await request(api.server)
        .put(`/profiles/v1/${profileId}`)
        .set('X-API-Key', key)
        .send({ name: 'x' });
      expectError(res, 'METHOD_NOT_ALLOWED');
      expect(res.headers.allow).toBe('DELETE, GET, HEAD, PATCH');
    });

    it('answers a method on a path nobody knows with a 404, not a 405', async () => {
      const res = await request(api.server).put('/no/such/path').set('X-API-Key', key).send({});
      expectError(res, 'NOT_FOUND');
    });
  });

  describe('ids in paths', () => {
    const ids = [
      ['a word', 'nope'],
      ['an id without the prefix', '0123456789abcdef'],
      ['upper-case hex', 'prof_0123456789ABCDEF'],
      ['17 hex digits', 'prof_0123456789abcdef0'],
      ['15 hex digits', 'prof_0123456789abcde'],
      ['a job id', 'job_0123456789abcdef'],
      ['an encoded NUL', 'prof_%00'],
      ['invalid percent-encoding', 'prof_%E0%A4%A'],
      ['a lone percent sign', '%'],
      ['an encoded path traversal', '..%2F..%2Fetc%2Fpasswd'],
      ['a Mongo operator', '%7B%22%24ne%22%3Anull%7D'],
      ['emoji', '%F0%9F%99%82'],
      ['a very long id', `prof_${'a'.repeat(4000)}`],
    ];
    const cases: [string, string, (id: string) => Promise<HttpAnswer>][] = [];
    for (const [label, id] of ids) {
      cases.push([
        `GET with ${label}`,
        id!,
        (i) => request(api.server).get(`/profiles/v1/${i}`).set('X-API-Key', key),
      ]);
      cases.push([
        `PATCH with ${label}`,
        id!,
        (i) => request(api.server).patch(`/profiles/v1/${i}`).set('X-API-Key', key).send({ name: 'x' }),
      ]);
      cases.push([
        `DELETE with ${label}`,
        id!,
        (i) => request(api.server).delete(`/profiles/v1/${i}`).set('X-API-Key', key),
      ]);
      cases.push([
        `GET versions with ${label}`,
        id!,
        (i) => request(api.server).get(`/profiles/v1/${i}/versions/1`).set('X-API-Key', key),
      ]);
    }
    it.each(cases)('answers 404 NOT_FOUND to %s', async (_label, id, call) => {
      expectError(await call(id), 'NOT_FOUND');
    });
  });
});
