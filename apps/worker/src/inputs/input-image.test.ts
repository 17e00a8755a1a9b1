import { createServer } from 'node:net';
import { type ImageServer, serve, startImageServer, testImage } from '@castforge/testkit/image-server';
import { JobCancelledError } from '../inference/inference-backend';
import { JobFailure, classify } from '../processors/failures';
import { type InputFetcher, createInputFetcher, fetchInputImages } from './input-image';

const MB = 1024 * 1024;
let server: ImageServer;
let fetcher: InputFetcher;
let png: Buffer;

beforeAll(async () => {
  png = await testImage('png', 48, 32);
  server = await startImageServer({
    '/face.png': serve(png, 'image/png'),
    '/face.jpg': serve(await testImage('jpeg', 40, 30), 'image/jpeg'),
    '/face.webp': serve(await testImage('webp', 20, 24), 'image/webp'),
    '/mislabelled': serve(png, 'application/octet-stream'),
    '/page.html': serve('<!doctype html><title>not an image</title>', 'text/html'),
    '/five-mb': serve(Buffer.alloc(5 * MB, 1), 'image/png'),
    '/endless': (_req, res) => {
      // No Content-Length and no end: only a reader that stops at its limit gets an answer.
      res.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    },
    '/hang': () => undefined,
    '/redirect': (_req, res) => res.writeHead(302, { location: server.at('/face.png') }).end(),
    '/gone': (_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('no'),
    '/wide.png': serve(await testImage('png', 5000, 10), 'image/png'),
    '/truncated.png': serve(png.subarray(0, Math.floor(png.length * 0.6)), 'image/png'),
    '/anim.gif': serve(
      Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'),
      'image/gif',
    ),
    '/empty': serve(Buffer.alloc(0), 'image/png'),
  });
  fetcher = createInputFetcher({ allowLoopback: true, maxBytes: MB, timeoutMs: 1500 });
});
afterAll(() => server.close());

/** The failure a fetch ends with; fails the test if it succeeds. */
async function failure(promise: Promise<unknown>): Promise<JobFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof JobFailure)) throw new Error(`expected a JobFailure, got ${String(err)}`);
  return err;
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('createInputFetcher', () => {
  it.each([
    ['/face.png', 'image/png', 48, 32],
    ['/face.jpg', 'image/jpeg', 40, 30],
    ['/face.webp', 'image/webp', 20, 24],
  ] as const)('fetches %s as %s of %d×%d, bytes as served', async (path, mimeType, width, height) => {
    const image = await fetcher.fetch('input_image', server.at(path));
    expect(image).toMatchObject({ mimeType, width, height });
    if (path === '/face.png') expect(image.data.equals(png)).toBe(true);
  });

  it('trusts the decoded bytes, not the Content-Type', async () => {
    await expect(fetcher.fetch('source', server.at('/mislabelled'))).resolves.toMatchObject({
      mimeType: 'image/png',
    });
  });

  it.each([
    ['an HTML page', '/page.html', 'target: is not an image (PNG, JPEG or WebP)'],
    ['an empty answer', '/empty', 'target: the answer was empty, not an image'],
    ['a GIF', '/anim.gif', 'target: is a gif image; only PNG, JPEG and WebP are accepted'],
    ['a 5000×10 image', '/wide.png', 'target: is 5000×10 pixels; at most 4096×4096'],
    [
      'a 5 MB body over a 1 MB limit',
      '/five-mb',
      `target: is ${5 * MB} bytes; at most ${MB} (INPUT_IMAGE_MAX_BYTES)`,
    ],
    ['a redirect', '/redirect', 'target: the server answered 302: redirects are not followed'],
    ['a 404', '/gone', 'target: the server answered 404'],
  ])('ends %s with INPUT_INVALID naming the field and why', async (_label, path, message) => {
    const err = await failure(fetcher.fetch('target', server.at(path)));
    expect(err).toMatchObject({ code: 'INPUT_INVALID', message });
  });

  it('refuses a truncated image whose header still reads', async () => {
    const err = await failure(fetcher.fetch('input_face', server.at('/truncated.png')));
    expect(err.message).toMatch(/^input_face: does not decode as a png image/);
  });

  it('stops reading a body without Content-Length once it passes the limit', async () => {
    const err = await failure(fetcher.fetch('input_image', server.at('/endless')));
    // Had it kept reading, the answer would have been the timeout, never this.
    expect(err.message).toBe(`input_image: is larger than ${MB} bytes (INPUT_IMAGE_MAX_BYTES)`);
  });

  it('gives up on a server that never answers, at the timeout', async () => {
    const quick = createInputFetcher({ allowLoopback: true, maxBytes: MB, timeoutMs: 200 });
    const err = await failure(quick.fetch('person_image', server.at('/hang')));
    expect(err).toMatchObject({
      code: 'INPUT_INVALID',
      message: 'person_image: no complete answer within 200 ms',
    });
  });

  it('ends an unreachable port with INPUT_INVALID, which is not retried', async () => {
    const err = await failure(
      fetcher.fetch('clothing_image', `http://127.0.0.1:${await closedPort()}/x.png`),
    );
    expect(err).toMatchObject({
      code: 'INPUT_INVALID',
      message: 'clothing_image: could not be fetched (ECONNREFUSED)',
    });
    expect(classify(err).retryable).toBe(false);
  });

  it.each([
    ['a private address', 'http://10.1.2.3/face.png', /refused: .*private.*10\.1\.2\.3/],
    [
      'the cloud metadata address',
      'http://169.254.169.254/latest/meta-data',
      /refused: .*169\.254\.169\.254/,
    ],
    ['credentials in the URL', 'https://user:pass@images.example.com/a.png', /refused: credentials/],
    ['another scheme', 'ftp://images.example.com/a.png', /refused: only http and https/],
  ])('refuses %s without connecting', async (_label, url, message) => {
    const err = await failure(fetcher.fetch('input_image', url));
    expect(err.code).toBe('INPUT_INVALID');
    expect(err.message).toMatch(message);
    expect(err.message.startsWith('input_image: ')).toBe(true);
  });

  it('refuses a host whose name resolves to a private address', async () => {
    const resolving = createInputFetcher({
      allowLoopback: true,
      maxBytes: MB,
      timeoutMs: 1000,
      resolve: () => Promise.resolve([{ address: '192.168.1.20', family: 4 }]),
    });
    const err = await failure(resolving.fetch('input_image', 'https://images.example.com/face.png'));
    expect(err.message).toMatch(/^input_image: refused: .*192\.168\.1\.20/);
  });

  it('refuses loopback unless INPUT_ALLOW_LOOPBACK is on, and says so', async () => {
    const strict = createInputFetcher({ allowLoopback: false, maxBytes: MB, timeoutMs: 1000 });
    const before = server.requests.length;
    const err = await failure(strict.fetch('input_image', server.at('/face.png')));
    expect(err.message).toMatch(/loopback.*INPUT_ALLOW_LOOPBACK=true/);
    expect(server.requests.length).toBe(before);
  });

  it('never puts the URL in the message, which the job status keeps', async () => {
    const err = await failure(fetcher.fetch('input_image', `${server.at('/gone')}?token=secret-token`));
    expect(err.message).not.toContain('secret-token');
    expect(err.message).not.toContain(server.url);
  });

  it('ends with the abort reason, not INPUT_INVALID, when the job is cancelled meanwhile', async () => {
    const controller = new AbortController();
    const pending = fetcher
      .fetch('input_image', server.at('/hang'), controller.signal)
      .catch((e: unknown) => e);
    controller.abort(new JobCancelledError('cancelled'));
    await expect(pending).resolves.toMatchObject({ code: 'CANCELLED' });
  });
});

describe('fetchInputImages', () => {
  it('fetches every field, keying list entries by index', async () => {
    const images = await fetchInputImages(fetcher, {
      source: server.at('/face.png'),
      input_image: [server.at('/face.jpg'), server.at('/face.webp')],
      logo_url: undefined,
    });
    expect(Object.keys(images).sort()).toEqual(['input_image.0', 'input_image.1', 'source']);
    expect(images['input_image.1']!.mimeType).toBe('image/webp');
  });

  it('fails with the first bad field', async () => {
    const err = await failure(
      fetchInputImages(fetcher, {
        person_image: server.at('/face.png'),
        clothing_image: server.at('/page.html'),
      }),
    );
    expect(err.message).toMatch(/^clothing_image: /);
  });
});
