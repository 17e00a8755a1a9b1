import { gzipSync } from 'node:zlib';
import { type ApiHarness, expectError, locsOf, rawRequest, rawSenderFor, startApi } from '@castforge/testkit';
import request from 'supertest';

describe('malformed bodies: syntax, type, Content-Type, encoding and size', () => {
  let api: ApiHarness;
  let key: string;
  let profileId: string;
  beforeAll(async () => {
    api = await startApi('hostile-bodies');
    key = await api.keyFor('hostile');
    const created = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', key)
      .send({ name: 'Target' });
    profileId = created.body.profile_id;
  });
  afterAll(() => api.close());

  /** POSTs (or PATCHes) these exact bytes with these headers. */
  const send: ReturnType<typeof rawSenderFor> = (...args) => rawSenderFor(api, key)(...args);

  describe('bodies that are not JSON', () => {
    it.each([
      ['plain text', 'hello'],
      ['truncated JSON', '{"name":"Caucasian Woman","steps":'],
      ['an unterminated string', '{"name":"x'],
      ['trailing garbage', '{"name":"x"} and more'],
      ['single quotes', "{'name':'x'}"],
      ['a trailing comma', '{"name":"x",}'],
      ['a comment', '{"name":"x" /* hi */}'],
      ['NaN', '{"name":"x","steps":NaN}'],
      ['whitespace only', '   '],
    ])('answers 400 MALFORMED_REQUEST for %s', async (_label, body) => {
      const res = await send(body);
      const error = expectError(res, 'MALFORMED_REQUEST');
      expect(error.message).toBe('the body is not valid JSON');
      expect(error.detail).toEqual([]);
    });

    it('answers 400 for malformed JSON on PATCH too, and changes nothing', async () => {
      expectError(
        await send('{"name":', undefined, 'PATCH', `/profiles/v1/${profileId}`),
        'MALFORMED_REQUEST',
      );
      const after = await request(api.server).get(`/profiles/v1/${profileId}`).set('X-API-Key', key);
      expect(after.body.version).toBe(1);
    });
  });

  describe('JSON that is not an object', () => {
    it.each([
      ['a number', '42', 'a number'],
      ['a string', '"Caucasian Woman"', 'a string'],
      ['true', 'true', 'a boolean'],
      ['null', 'null', 'null'],
      ['an empty array', '[]', 'an array'],
      ['an array holding a valid profile', '[{"name":"x"}]', 'an array'],
    ])('answers 422 naming the body for %s', async (_label, body, what) => {
      const error = expectError(await send(body), 'INVALID_PARAMETERS');
      expect(error.detail).toEqual([
        { loc: ['body'], msg: `must be an object, not ${what}`, type: 'invalid_type' },
      ]);
      expect(error.message).toBe(`body: must be an object, not ${what}`);
    });
  });

  describe('empty bodies', () => {
    it('answers 422 naming the body for an empty POST with a JSON Content-Type', async () => {
      const error = expectError(await send(''), 'INVALID_PARAMETERS');
      expect(error.detail).toEqual([{ loc: ['body'], msg: 'is required', type: 'missing' }]);
      expect(error.message).toBe('body: is required');
    });

    it('answers 422 naming the body for a POST with no body at all', async () => {
      const error = expectError(await send(undefined, {}), 'INVALID_PARAMETERS');
      expect(error.detail).toEqual([{ loc: ['body'], msg: 'is required', type: 'missing' }]);
    });

    it('answers 422 for an empty PATCH body and does not count it as an update', async () => {
      const error = expectError(
        await send('', undefined, 'PATCH', `/profiles/v1/${profileId}`),
        'INVALID_PARAMETERS',
      );
      expect(locsOf(error)).toEqual(['body']);
      const after = await request(api.server).get(`/profiles/v1/${profileId}`).set('X-API-Key', key);
      expect(after.body.version).toBe(1);
    });
  });

  describe('Content-Type and encoding', () => {
    it.each([
      ['text/plain', 'text/plain'],
      ['form-encoded', 'application/x-www-form-urlencoded'],
      ['multipart', 'multipart/form-data; boundary=x'],
      ['XML', 'application/xml'],
      ['no Content-Type at all', undefined],
    ])('answers 415 for a %s body', async (_label, contentType) => {
      const headers: Record<string, string> = contentType ? { 'Content-Type': contentType } : {};
      const res = await send('{"name":"x"}', headers);
      const error = expectError(res, 'UNSUPPORTED_MEDIA_TYPE');
      expect(error.message).toMatch(/application\/json/);
    });

    it('answers 415 for a form-encoded PATCH and changes nothing', async () => {
      const res = await send(
        'name=x',
        { 'Content-Type': 'application/x-www-form-urlencoded' },
        'PATCH',
        `/profiles/v1/${profileId}`,
      );
      expectError(res, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('reads a UTF-16 body that says so in its charset', async () => {
      const res = await send(Buffer.from('{"name":"Zoë ✓"}', 'utf16le'), {
        'Content-Type': 'application/json; charset=utf-16le',
      });
      expect(res.status).toBe(201);
      expect((res.body as { name: string }).name).toBe('Zoë ✓');
    });

    it('answers 400 for a UTF-16 body sent as UTF-8', async () => {
      expectError(await send(Buffer.from('{"name":"x"}', 'utf16le')), 'MALFORMED_REQUEST');
    });

    it('answers 415 for a charset other than UTF', async () => {
      const res = await send(Buffer.from('{"name":"Zoë"}', 'latin1'), {
        'Content-Type': 'application/json; charset=iso-8859-1',
      });
      expectError(res, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('skips a UTF-8 byte-order mark', async () => {
      const res = await send(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":"BOM"}')]));
      expect(res.status).toBe(201);
      expect((res.body as { name: string }).name).toBe('BOM');
    });

    it('keeps invalid UTF-8 bytes out as replacement characters rather than failing', async () => {
      const res = await send(
        Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('b"}')]),
      );
      expect(res.status).toBe(201);
      expect((res.body as { name: string }).name).toBe('a\uFFFD\uFFFDb');
    });

    it('reads a gzip-compressed body', async () => {
      const res = await send(gzipSync('{"name":"Compressed"}'), {
        'Content-Type': 'application/json',
        'Content-Encoding': 'gzip',
      });
      expect(res.status).toBe(201);
    });

    it('answers 400 for a body that claims gzip but is not', async () => {
      const res = await send('{"name":"x"}', {
        'Content-Type': 'application/json',
        'Content-Encoding': 'gzip',
      });
      expectError(res, 'MALFORMED_REQUEST');
    });

    it('answers 415 for an unknown Content-Encoding', async () => {
      const res = await send('{"name":"x"}', {
        'Content-Type': 'application/json',
        'Content-Encoding': 'snappy',
      });
      expectError(res, 'UNSUPPORTED_MEDIA_TYPE');
    });
  });

  describe('size', () => {
    it('answers 413 PAYLOAD_TOO_LARGE for a body over 1 MB', async () => {
      const body = JSON.stringify({ name: 'x', description: 'a'.repeat(1024 * 1024) });
      expectError(await send(body), 'PAYLOAD_TOO_LARGE');
    });

    it('answers 413 for a chunked body over 1 MB that declares no length', async () => {
      const res = await rawRequest(api.baseUrl, {
        method: 'POST',
        path: '/profiles/v1',
        headers: { 'X-API-Key': key, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
        body: JSON.stringify({ name: 'x', description: 'a'.repeat(1024 * 1024 + 10) }),
      });
      expectError(res, 'PAYLOAD_TOO_LARGE');
    });

    it('answers 413 for a gzip bomb that inflates past 1 MB', async () => {
      const bomb = gzipSync(JSON.stringify({ name: 'x', description: ' '.repeat(20 * 1024 * 1024) }));
      expect(bomb.length).toBeLessThan(64 * 1024);
      const res = await send(bomb, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
      expectError(res, 'PAYLOAD_TOO_LARGE');
    });

    it('reads a body just under 1 MB, then judges its fields', async () => {
      const body = JSON.stringify({ name: 'x', description: 'a'.repeat(1000 * 1000) });
      const error = expectError(await send(body), 'INVALID_PARAMETERS');
      expect(locsOf(error)).toEqual(['body.description']);
    });
  });
});
