import { type ApiHarness, expectError, rawRequest, startApi } from '@castforge/testkit';
import request from 'supertest';

describe('X-Request-Id', () => {
  let api: ApiHarness;
  let key: string;
  beforeAll(async () => {
    api = await startApi('request-id');
    key = await api.keyFor('request-id');
  });
  afterAll(() => api.close());

  it('is on every response, success or error, with or without a key', async () => {
    const created = await request(api.server).post('/profiles/v1').set('X-API-Key', key).send({ name: 'x' });
    const id = created.body.profile_id as string;
    const answers = [
      created,
      await request(api.server).get('/healthz'),
      await request(api.server).get('/metrics'),
      await request(api.server).get('/openapi.json'),
      await request(api.server).get('/profiles/v1').set('X-API-Key', key),
      await request(api.server).delete(`/profiles/v1/${id}`).set('X-API-Key', key),
      await request(api.server).get('/profiles/v1'),
      await request(api.server).get('/no/such/route'),
    ];
    expect(answers.map((r) => r.status)).toEqual([201, 200, 200, 200, 200, 204, 401, 404]);
    for (const res of answers) expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
    expect(new Set(answers.map((r) => r.headers['x-request-id'])).size).toBe(answers.length);
  });

  it('is the request_id of every error body, whatever the error', async () => {
    const errors = [
      [await request(api.server).get('/profiles/v1'), 'UNAUTHORIZED'],
      [
        await request(api.server).get('/profiles/v1/prof_0000000000000000').set('X-API-Key', key),
        'NOT_FOUND',
      ],
      [await request(api.server).post('/profiles/v1').set('X-API-Key', key).send({}), 'INVALID_PARAMETERS'],
      [
        await request(api.server)
          .post('/profiles/v1')
          .set('X-API-Key', key)
          .set('Content-Type', 'application/json')
          .send('{oops'),
        'MALFORMED_REQUEST',
      ],
      [
        await request(api.server)
          .post('/profiles/v1')
          .set('X-API-Key', key)
          .set('Content-Type', 'text/plain')
          .send('x'),
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        await rawRequest(api.baseUrl, {
          method: 'POST',
          path: '/profiles/v1',
          headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
          body: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
        }),
        'PAYLOAD_TOO_LARGE',
      ],
    ] as const;
    for (const [res, code] of errors) {
      const body = expectError(res, code);
      expect(body.request_id).toBe(res.headers['x-request-id']);
    }
  });

  it("keeps a caller's own sane X-Request-Id, in the header and in the error body", async () => {
    const res = await request(api.server).get('/profiles/v1').set('X-Request-Id', 'trace-42.abc:def_1');
    expect(res.headers['x-request-id']).toBe('trace-42.abc:def_1');
    expect(expectError(res, 'UNAUTHORIZED').request_id).toBe('trace-42.abc:def_1');
  });

  it.each([
    ['with spaces', 'a b c'],
    ['with a newline-like escape', 'abc%0d%0aSet-Cookie:x'],
    ['too long', 'x'.repeat(129)],
    ['with quotes', '"><script>'],
  ])('replaces a caller X-Request-Id %s with one of its own', async (_label, id) => {
    const res = await request(api.server).get('/healthz').set('X-Request-Id', id);
    expect(res.headers['x-request-id']).not.toBe(id);
    expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });
});
