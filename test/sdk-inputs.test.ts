/**
 * Issue 10, "a non-image input": input image URLs that are not images, cannot be reached or are too big
 * (SPEC §3b). The URL passes the submit check (loopback is admitted, INPUT_ALLOW_LOOPBACK=true); what is
 * behind it is found out by the worker when the job starts, and the job ends `failed` with INPUT_INVALID,
 * not retried, with a message that names the field and says why — and never carries the URL, since the
 * status (and its record in Redis) outlives the job's input URLs (SPEC §9). The official client sees it as
 * `JobFailedError(job_id, error)`. URLs that cannot pass the submit check are the client's `APIError(422)`.
 */
import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import {
  type ApiHarness,
  type WorkerHarness,
  dumpRedis,
  startApi,
  startWorker,
  waitFor,
} from '@castforge/testkit';
import { type ImageServer, serve, startImageServer, testImage } from '@castforge/testkit/image-server';
import {
  type SdkClient,
  SdkApiError,
  SdkJobFailedError,
  sdkBody,
  sdkClient,
} from '@castforge/testkit/sdk-client';
import sharp from 'sharp';

const MAX_BYTES = 4096;
const TIMEOUT_MS = 2000;

const PATHS = {
  face: '/sdk-bad/face-ok-6a1c.png',
  html: '/sdk-bad/profile-page-b2e7.html',
  htmlAsPng: '/sdk-bad/lying-html-3f90.png',
  htmlLogo: '/sdk-bad/brand-page-0c3a.html',
  missing: '/sdk-bad/gone-7d15.png',
  big: '/sdk-bad/huge-declared-c481.png',
  bigChunked: '/sdk-bad/huge-chunked-e05a.png',
  hang: '/sdk-bad/never-answers-91bd.png',
  unreachable: '/sdk-bad/nobody-home-48ce.png',
  gif: '/sdk-bad/animated-5e3b.gif',
  wide: '/sdk-bad/panorama-a09f.png',
  truncated: '/sdk-bad/cut-short-14c2.png',
  redirect: '/sdk-bad/moved-d6f8.png',
} as const;
const HTML =
  '<!doctype html><html><head><title>My profile</title></head><body><img src="me.png"></body></html>';

/** A loopback port nobody listens on (taken, then given back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the official client: input images that are not images, unreachable or too big', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let images: ImageServer;
  let unreachable: string;
  let ip: SdkClient;
  let profileId: string;
  const hung: Array<() => void> = [];

  beforeAll(async () => {
    // Noise does not compress: a 96×96 png of it is far over MAX_BYTES, yet a valid image.
    const noise = randomBytes(96 * 96 * 3);
    const big = await sharp(noise, { raw: { width: 96, height: 96, channels: 3 } })
      .png()
      .toBuffer();
    expect(big.length).toBeGreaterThan(MAX_BYTES);
    const face = await testImage('png', 64, 80);
    const gif = await sharp(face).gif().toBuffer();
    // 4100 pixels wide, yet a few hundred bytes: too large a picture, not too large a file.
    const wide = await sharp({ create: { width: 4100, height: 8, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    expect(wide.length).toBeLessThan(MAX_BYTES);
    images = await startImageServer({
      [PATHS.face]: serve(face, 'image/png'),
      [PATHS.html]: serve(HTML, 'text/html; charset=utf-8'),
      [PATHS.htmlAsPng]: serve(HTML, 'image/png'),
      [PATHS.htmlLogo]: serve(HTML, 'text/html'),
      [PATHS.big]: serve(big, 'image/png'),
      // No Content-Length: the worker finds out while reading.
      [PATHS.bigChunked]: (_req, res) => {
        res.writeHead(200, { 'content-type': 'image/png' });
        for (let i = 0; i < big.length; i += 1024) res.write(big.subarray(i, i + 1024));
        res.end();
      },
      [PATHS.gif]: serve(gif, 'image/gif'),
      [PATHS.wide]: serve(wide, 'image/png'),
      [PATHS.truncated]: serve(face.subarray(0, Math.floor(face.length * 0.6)), 'image/png'),
      // A redirect to a perfectly good image: refused all the same (the target is never vetted otherwise).
      [PATHS.redirect]: (_req, res) => {
        res.writeHead(302, { location: PATHS.face }).end();
      },
      [PATHS.hang]: (_req, res) =>
        new Promise<void>((resolve) => hung.push(() => (res.destroy(), resolve()))),
    });
    unreachable = `http://127.0.0.1:${await closedPort()}${PATHS.unreachable}`;
    api = await startApi('story-sdk-inputs', { INPUT_ALLOW_LOOPBACK: 'true' });
    worker = await startWorker(api.services, {
      INPUT_ALLOW_LOOPBACK: 'true',
      INPUT_IMAGE_MAX_BYTES: String(MAX_BYTES),
      INPUT_IMAGE_TIMEOUT_MS: String(TIMEOUT_MS),
      SIMULATED_STEP_MS: '1',
    });
    ip = sdkClient(api.baseUrl, await api.keyFor('sdk-inputs'));
    profileId = (
      await ip.post(
        '/profiles/v1',
        sdkBody.createProfile('Inputs', { prompt_template: 'a face', width: 64, height: 64, steps: 2 }),
      )
    ).profile_id as string;
    // The identity operations are accepted once the worker has declared them.
    await waitFor(
      async () =>
        ((await ip.account()).operations as { operation: string }[]).some((o) => o.operation === 'tryon'),
      { timeoutMs: 10_000, intervalMs: 200, what: 'the worker to declare tryon' },
    );
  });
  afterAll(async () => {
    hung.forEach((release) => release());
    await worker?.close();
    await api?.close();
    await images?.close();
  });

  /** submit_and_poll of a job that must fail: the client's JobFailedError and the status behind it. */
  const failing = async (endpoint: string, body: Record<string, unknown>) => {
    const err = await ip.submitAndPoll(endpoint, body).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SdkJobFailedError);
    return err as SdkJobFailedError;
  };
  /** The failure of SPEC §8 for a bad input: INPUT_INVALID, not retried, the field and the reason, no URL. */
  const expectInputInvalid = (err: SdkJobFailedError, field: string, reason: RegExp, url: string) => {
    expect(err.status).toMatchObject({
      status: 'failed',
      failure_reason_code: 'INPUT_INVALID',
      retryable: false,
      result_url: null,
    });
    expect(err.error).toEqual(expect.stringMatching(new RegExp(`^${field}: `)));
    expect(err.error).toMatch(reason);
    const { host, pathname } = new URL(url);
    // Not retried: the worker asked for the image once (SPEC §3b, "not retried forever").
    if (url.startsWith(images.url)) expect(images.requests.filter((p) => p === pathname)).toHaveLength(1);
    for (const part of [url, host, pathname, pathname.split('/').pop()!, '127.0.0.1'])
      expect({ error: err.error, holds: err.error!.includes(part) }).toEqual({
        error: err.error,
        holds: false,
      });
  };

  it('fails a lock whose input_image is an HTML page, whatever its Content-Type says', async () => {
    for (const path of [PATHS.html, PATHS.htmlAsPng]) {
      const url = images.at(path);
      const err = await failing(
        'identity/lock/image/v1',
        sdkBody.lock(url, 'on a pier', { profile_id: profileId }),
      );
      expectInputInvalid(err, 'input_image', /not an image/i, url);
    }
  });

  it('fails a lock whose input_image is a GIF, too many pixels wide, cut short, or a redirect, saying which', async () => {
    const cases: Array<[string, RegExp]> = [
      [PATHS.gif, /gif.*only PNG, JPEG and WebP/],
      [PATHS.wide, /4100×8 pixels; at most 4096×4096/],
      [PATHS.truncated, /does not decode|not an image/],
      [PATHS.redirect, /302.*redirects are not followed/],
    ];
    for (const [path, reason] of cases) {
      const url = images.at(path);
      const err = await failing('identity/lock/image/v1', sdkBody.lock(url, 'x', { profile_id: profileId }));
      expectInputInvalid(err, 'input_image', reason, url);
    }
  });

  it('fails a tryon whose clothing_image is on a host nobody answers, naming clothing_image', async () => {
    const err = await failing(
      'creator/tryon/image/v1',
      sdkBody.tryon(images.at(PATHS.face), unreachable, { profile_id: profileId }),
    );
    expectInputInvalid(err, 'clothing_image', /could not be fetched|ECONNREFUSED/, unreachable);
  });

  it('fails an instamodel whose input_face answers 404, saying so', async () => {
    const url = images.at(PATHS.missing);
    const err = await failing(
      'creator/instamodel/image/v1',
      sdkBody.instamodel(url, 'x', { profile_id: profileId }),
    );
    expectInputInvalid(err, 'input_face', /404/, url);
  });

  it('fails a faceswap whose target is over INPUT_IMAGE_MAX_BYTES, declared or found while reading', async () => {
    for (const path of [PATHS.big, PATHS.bigChunked]) {
      const url = images.at(path);
      const err = await failing(
        'identity/faceswap/image/v1',
        sdkBody.faceswap(images.at(PATHS.face), url, { profile_id: profileId }),
      );
      expectInputInvalid(err, 'target', new RegExp(`${MAX_BYTES}.*INPUT_IMAGE_MAX_BYTES`), url);
    }
  });

  it('fails a replace whose input_image never answers, once INPUT_IMAGE_TIMEOUT_MS has passed', async () => {
    const url = images.at(PATHS.hang);
    const err = await failing('identity/replace/image/v1', sdkBody.lock(url, 'x', { profile_id: profileId }));
    expectInputInvalid(err, 'input_image', new RegExp(`within ${TIMEOUT_MS} ms`), url);
  });

  it('fails a generate.image whose logo_url is not an image, naming logo_url', async () => {
    const url = images.at(PATHS.htmlLogo);
    const err = await failing(
      'generate/image/v1',
      sdkBody.generateImage('a poster', { profile_id: profileId, logo_url: url }),
    );
    expectInputInvalid(err, 'logo_url', /not an image/i, url);
  });

  it('refuses at submit, with the client’s APIError 422 naming the field, URLs that can never be fetched', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['identity/lock/image/v1', sdkBody.lock('http://10.20.30.40/face.png', 'x'), 'input_image'],
      ['identity/lock/image/v1', sdkBody.lock('ftp://images.example.com/face.png', 'x'), 'input_image'],
      [
        'identity/faceswap/image/v1',
        sdkBody.faceswap(images.at(PATHS.face), 'http://169.254.169.254/latest'),
        'target',
      ],
      [
        'creator/tryon/image/v1',
        sdkBody.tryon('https://user:secret@images.example.com/p.png', images.at(PATHS.face)),
        'person_image',
      ],
    ];
    for (const [endpoint, body, field] of cases) {
      const err = await ip.submit(endpoint, body).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SdkApiError);
      const apiError = err as SdkApiError;
      expect({ endpoint, field, status: apiError.statusCode }).toEqual({ endpoint, field, status: 422 });
      expect(apiError.errorCode).toMatch(/^(INVALID_PARAMETERS|INPUT_INVALID)$/);
      const detail = (JSON.parse(apiError.answer.text) as { detail: { loc: unknown[] }[] }).detail;
      expect(detail.map((d) => d.loc.join('.'))).toContain(`body.${field}`);
    }
  });

  it('leaves none of these URLs in Redis once their jobs have failed', async () => {
    const { redis, prefix } = api.services;
    const needles = [
      images.url,
      images.url.replace(/^http:\/\//, ''),
      new URL(unreachable).host,
      // The URLs refused at submit left nothing either.
      '10.20.30.40',
      '169.254.169.254',
      'images.example.com',
      'user:secret',
      ...Object.values(PATHS),
      ...Object.values(PATHS).map((path) => path.split('/').pop()!),
    ];
    const dump = await dumpRedis(redis, prefix);
    expect(dump.size).toBeGreaterThan(0);
    const leaks = [...dump].flatMap(([key, content]) =>
      needles.filter((n) => key.includes(n) || content.includes(n)).map((n) => `${key} holds ${n}`),
    );
    expect(leaks).toEqual([]);
    expect([...dump].filter(([, content]) => /"inputs":"v1\./.test(content)).map(([key]) => key)).toEqual([]);
  });
});
