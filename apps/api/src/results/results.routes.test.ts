import { rm } from 'node:fs/promises';
import { newJobId } from '@castforge/core';
import { type ApiHarness, expectError, startApi } from '@castforge/testkit';
import request from 'supertest';

const PUBLIC_BASE_URL = 'https://images.castforge.test';

/** The path and query of a signed URL, to request from the API under test. */
const pathOf = (url: string) => {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
};

describe('GET /results/v1/:file (signed result links)', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('results-routes', { PUBLIC_BASE_URL });
  });
  afterAll(async () => {
    await api.close();
    await rm(api.deps.config.RESULT_DIR, { recursive: true, force: true });
  });

  /** Stores a small result and returns its key and a link valid for `validMs` (negative: already expired). */
  const stored = async (format: 'png' | 'jpeg' | 'webp' = 'png', validMs = 60_000) => {
    const key = `${newJobId()}.${format}`;
    const bytes = Buffer.from(`fake ${format} bytes of ${key}`);
    await api.deps.results.put(key, bytes);
    return { key, bytes, url: api.deps.resultUrl(key, Date.now() + validMs) };
  };
  const exists = async (key: string) => {
    const opened = await api.deps.results.open(key);
    opened?.stream.destroy();
    return opened !== null;
  };
  const get = (path: string) =>
    request(api.server)
      .get(path)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const json = /json/.test(String(res.headers['content-type']));
          done(null, json ? JSON.parse(raw.toString('utf8')) : raw);
        });
      });

  it('signs an absolute link under PUBLIC_BASE_URL with an expiry and a signature', async () => {
    const { key, url } = await stored();
    expect(url).toMatch(
      new RegExp(`^${PUBLIC_BASE_URL}/results/v1/${key}\\?expires=\\d+&sig=[A-Za-z0-9_-]+$`),
    );
  });

  it.each([
    ['png', 'image/png'],
    ['jpeg', 'image/jpeg'],
    ['webp', 'image/webp'],
  ] as const)(
    'serves a stored %s with Content-Type %s and its exact length, without an API key',
    async (format, mime) => {
      const { bytes, url } = await stored(format);
      const res = await get(pathOf(url));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(mime);
      expect(res.headers['content-length']).toBe(String(bytes.length));
      expect(Buffer.compare(res.body as Buffer, bytes)).toBe(0);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    },
  );

  it('lets caches keep the image no longer than the link is valid', async () => {
    const { url } = await stored('png', 120_000);
    const res = await get(pathOf(url));
    const maxAge = Number(/max-age=(\d+)/.exec(String(res.headers['cache-control']))?.[1]);
    expect(res.headers['cache-control']).toMatch(/private/);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(120);
  });

  it('serves the same image for every request until the link expires', async () => {
    const { bytes, url } = await stored();
    for (let i = 0; i < 3; i++)
      expect(Buffer.compare((await get(pathOf(url))).body as Buffer, bytes)).toBe(0);
  });

  describe('refuses a link that was not signed for this file and expiry, with 404, and keeps the file', () => {
    const tamper = (sig: string) => (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);

    it.each([
      [
        'a signature with one character changed',
        (u: URL) => u.searchParams.set('sig', tamper(u.searchParams.get('sig')!)),
      ],
      [
        'a truncated signature',
        (u: URL) => u.searchParams.set('sig', u.searchParams.get('sig')!.slice(0, -1)),
      ],
      ['an empty signature', (u: URL) => u.searchParams.set('sig', '')],
      ['no signature', (u: URL) => u.searchParams.delete('sig')],
      ['no expiry', (u: URL) => u.searchParams.delete('expires')],
      [
        'an expiry moved later',
        (u: URL) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600)),
      ],
      ['an expiry that is not a number', (u: URL) => u.searchParams.set('expires', 'soon')],
      ['no query at all', (u: URL) => (u.search = '')],
      ['the signature given twice', (u: URL) => u.searchParams.append('sig', u.searchParams.get('sig')!)],
    ])('%s', async (_label, change) => {
      const { key, url } = await stored();
      const altered = new URL(url);
      change(altered);
      expectError(await get(altered.pathname + altered.search), 'NOT_FOUND');
      expect(await exists(key)).toBe(true);
    });

    it("another file's signature", async () => {
      const mine = await stored();
      const other = await stored();
      const altered = new URL(other.url);
      altered.pathname = `/results/v1/${mine.key}`;
      expectError(await get(altered.pathname + altered.search), 'NOT_FOUND');
      expect(await exists(mine.key)).toBe(true);
    });

    it('the same job with another extension', async () => {
      const { key, url } = await stored('png');
      const altered = new URL(url);
      altered.pathname = `/results/v1/${key.replace('.png', '.webp')}`;
      expectError(await get(altered.pathname + altered.search), 'NOT_FOUND');
    });

    it.each([
      ['a name that is not a result', 'passwd'],
      ['another extension', 'job_0123456789abcdef.gif'],
      ['an encoded path', '..%2F..%2Fetc%2Fpasswd'],
      ['upper-case hex', 'job_0123456789ABCDEF.png'],
    ])('%s', async (_label, file) => {
      expectError(await get(`/results/v1/${file}?expires=9999999999&sig=abc`), 'NOT_FOUND');
    });

    it('an expired link with a bad signature, which must not delete the file', async () => {
      const { key, url } = await stored('png', -60_000);
      const altered = new URL(url);
      altered.searchParams.set('sig', tamper(altered.searchParams.get('sig')!));
      expectError(await get(altered.pathname + altered.search), 'NOT_FOUND');
      expect(await exists(key)).toBe(true);
    });
  });

  it('answers an expired link with 410 and deletes the file', async () => {
    const { key, url } = await stored('png', -5_000);
    expect(await exists(key)).toBe(true);
    const body = expectError(await get(pathOf(url)), 'GONE');
    expect(body.message).toMatch(/expired/);
    expect(await exists(key)).toBe(false);
    expectError(await get(pathOf(url)), 'GONE');
  });

  it('answers 410 for a valid link to a file that is no longer stored', async () => {
    const { key, url } = await stored();
    await api.deps.results.remove(key);
    expectError(await get(pathOf(url)), 'GONE');
  });

  it('serves the result of a completed job through the result_url of its status', async () => {
    const apiKey = await api.keyFor('results-owner');
    const submitted = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', apiKey)
      .send({ prompt: 'a fox', output_format: 'jpeg' });
    const jobId = submitted.body.job_id as string;
    const bytes = Buffer.from('jpeg bytes');
    const expiresAt = Date.now() + 3_600_000;
    await api.deps.results.put(`${jobId}.jpeg`, bytes);
    await api.deps.jobs.start({ jobId, tenantId: 'results-owner' }, { prompt: 'a fox', seed: 3 });
    await api.deps.jobs.finish({ jobId, tenantId: 'results-owner' }, 'completed', {
      result_key: `${jobId}.jpeg`,
      result_mime_type: 'image/jpeg',
      result_size_bytes: bytes.length,
      result_expires_at: expiresAt,
    });

    const status = await request(api.server)
      .get(`/generate/image/v1/status/${jobId}`)
      .set('X-API-Key', apiKey);
    expect(status.body).toMatchObject({
      status: 'completed',
      progress: 100,
      result_url: expect.stringMatching(new RegExp(`^${PUBLIC_BASE_URL}/results/v1/${jobId}\\.jpeg\\?`)),
      result_mime_type: 'image/jpeg',
      result_size_bytes: bytes.length,
      result_expires_at: new Date(expiresAt).toISOString(),
    });
    const image = await get(pathOf(status.body.result_url));
    expect(image.status).toBe(200);
    expect(image.headers['content-type']).toBe('image/jpeg');
    expect(Buffer.compare(image.body as Buffer, bytes)).toBe(0);
  });
});
