/**
 * SPEC §9: "no input image URL or bytes stay in Redis, MongoDB, logs or metrics after the job ends". The
 * Redis side is in sdk-identity and sdk-inputs; this is the logs: the API and the worker log at `trace`
 * into memory while the official client runs identity calls that complete, fail on a bad input, are refused
 * at submit for a private address, and a generate.image with a logo — and no line names an input URL, its
 * path or the image server's host:port. The loggers are the project's (createLogger's redaction included),
 * only pointed at an in-memory stream.
 */
import {
  type ApiHarness,
  type TestServices,
  type WorkerHarness,
  memoryLogger,
  openServices,
  startApi,
  startWorker,
  waitFor,
} from '@castforge/testkit';
import { type ImageServer, serve, startImageServer, testImage } from '@castforge/testkit/image-server';
import { SdkJobFailedError, sdkBody, sdkClient } from '@castforge/testkit/sdk-client';

const PATHS = {
  face: '/logged-inputs/face-31f7.png',
  scene: '/logged-inputs/scene-c90e.png',
  logo: '/logged-inputs/logo-5a2d.png',
  html: '/logged-inputs/page-7b44.html',
} as const;

describe('no input URL in the logs of the API or the worker', () => {
  const lines: string[] = [];
  let services: TestServices;
  let api: ApiHarness;
  let worker: WorkerHarness;
  let images: ImageServer;

  beforeAll(async () => {
    images = await startImageServer({
      [PATHS.face]: serve(await testImage('png', 64, 80), 'image/png'),
      [PATHS.scene]: serve(await testImage('png', 96, 64, [20, 140, 90]), 'image/png'),
      [PATHS.logo]: serve(await testImage('png', 16, 16, [0, 0, 0]), 'image/png'),
      [PATHS.html]: serve('<html><body>not a face</body></html>', 'text/html'),
    });
    const own = await openServices('story-sdk-logs');
    services = { ...own, logger: memoryLogger('api', lines) };
    api = await startApi('story-sdk-logs', { INPUT_ALLOW_LOOPBACK: 'true' }, services);
    worker = await startWorker(
      services,
      { INPUT_ALLOW_LOOPBACK: 'true', SIMULATED_STEP_MS: '1' },
      { logger: memoryLogger('worker', lines) },
    );
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await services?.close();
    await images?.close();
  });

  it('logs requests and job endings without ever writing an input URL', async () => {
    const ip = sdkClient(api.baseUrl, await api.keyFor('sdk-logs'));
    await waitFor(
      async () =>
        ((await ip.account()).operations as { operation: string }[]).some((o) => o.operation === 'lock'),
      { timeoutMs: 10_000, intervalMs: 200, what: 'the worker to declare lock' },
    );
    const profile_id = (
      await ip.post(
        '/profiles/v1',
        sdkBody.createProfile('Logged', { prompt_template: 'a face', width: 64, height: 64, steps: 2 }),
      )
    ).profile_id as string;
    const at = images.at.bind(images);

    await ip.submitAndPoll('identity/lock/image/v1', sdkBody.lock(at(PATHS.face), 'x', { profile_id }));
    await ip.submitAndPoll(
      'identity/faceswap/image/v1',
      sdkBody.faceswap(at(PATHS.face), at(PATHS.scene), { profile_id }),
    );
    await ip.submitAndPoll(
      'generate/image/v1',
      sdkBody.generateImage('a poster', { profile_id, logo_url: at(PATHS.logo) }),
    );
    await expect(
      ip.submitAndPoll('identity/lock/image/v1', sdkBody.lock(at(PATHS.html), 'x', { profile_id })),
    ).rejects.toBeInstanceOf(SdkJobFailedError);
    await expect(
      ip.submit('identity/lock/image/v1', sdkBody.lock('http://10.9.8.7/private-face-e61a.png', 'x')),
    ).rejects.toMatchObject({ statusCode: 422 });

    // The logs did see this traffic (so the check below looks at something), at every level written.
    expect(lines.some((line) => line.includes('/identity/lock/image/v1'))).toBe(true);
    expect(lines.some((line) => line.includes('"service":"worker"'))).toBe(true);
    const needles = [
      images.url.replace(/^http:\/\//, ''),
      ...Object.values(PATHS),
      ...Object.values(PATHS).map((path) => path.split('/').pop()!),
      '10.9.8.7',
      'private-face-e61a',
    ];
    const leaks = lines.flatMap((line) =>
      needles.filter((n) => line.includes(n)).map((n) => `${n} in ${line}`),
    );
    expect(leaks).toEqual([]);
  });
});
