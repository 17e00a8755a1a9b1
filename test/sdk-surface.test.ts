/**
 * Issue 10, the rest of "What will be checked": `account()`, `upload.image`, "an endpoint it has that
 * castforge does not run", and the answers the official client parses into its exceptions (SPEC §3b, §8):
 * - GET /v1/user/details: the key's tenant and name, the operations the deployment runs with their
 *   endpoints, and the usage of this calendar month counting the jobs this tenant ran;
 * - upload.image → 422 INPUT_INVALID saying why, for the multipart body exactly as the client sends it
 *   (labelled application/json: requests merges the session's Content-Type back in) and for a correctly
 *   labelled one, large or small — never a 400 from the JSON parser;
 * - generate.video / speech / 3d and voice_clone → 501 NOT_IMPLEMENTED in the §8 shape, naming the endpoint;
 * - a known path with another method (PUT /profiles/v1/{id}) → 405 with Allow;
 * - 429 with a Retry-After the client's `int()` can read, on an API with a tiny write budget.
 */
import {
  type ApiHarness,
  type WorkerHarness,
  expectError,
  startApi,
  startWorker,
  waitFor,
} from '@castforge/testkit';
import { type A1111Stub, startA1111Stub } from '@castforge/testkit/a1111-stub';
import { type ErrorCode, operationRoutes, OperationName } from '@castforge/schemas';
import { testImage } from '@castforge/testkit/image-server';
import {
  type SdkAnswer,
  type SdkClient,
  SdkApiError,
  SdkAuthenticationError,
  SdkRateLimitError,
  pyFloat,
  pythonInt,
  sdkBody,
  sdkClient,
} from '@castforge/testkit/sdk-client';

const GPU_COST_PER_SECOND_USD = 0.0011;

/** The §8 shape of an answer the client turned into an exception. */
const expectSpecError = (answer: SdkAnswer, code: ErrorCode) =>
  expectError(
    { status: answer.status, headers: answer.headers, body: JSON.parse(answer.text) as unknown },
    code,
  );
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: unknown) => err,
  );

describe('the official client’s account(), upload.image and the endpoints castforge does not run', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;

  beforeAll(async () => {
    api = await startApi('story-sdk-surface', { GPU_COST_PER_SECOND_USD: String(GPU_COST_PER_SECOND_USD) });
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '1' });
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
  });

  it('account() names the key, every operation the deployment runs at its endpoint, and this month’s jobs', async () => {
    const issued = await api.deps.keys.create('sdk-account', 'laptop sdk');
    const ip = sdkClient(api.baseUrl, issued.api_key);
    const small = { width: 256, height: 256, num_inference_steps: 4 };
    const jobs = await Promise.all(
      ['a lighthouse', 'a harbour'].map((prompt) =>
        ip.submitAndPoll('generate/image/v1', sdkBody.generateImage(prompt, small)),
      ),
    );
    const inferenceSeconds = jobs.reduce((sum, { job }) => sum + (job.inference_time_seconds as number), 0);

    const account = await ip.account();
    expect(account).toMatchObject({
      tenant_id: 'sdk-account',
      key: { key_id: issued.key_id, name: 'laptop sdk' },
      plan: 'self-hosted',
      balance_remaining_usd: null,
      usage: { month: new Date().toISOString().slice(0, 7), jobs: 2 },
    });
    // The simulated backend runs every operation; each is listed with the route the client calls.
    const operations = account.operations as { operation: string; endpoint: string; backends: string[] }[];
    expect(operations.map((o) => o.operation).sort()).toEqual([...OperationName.options].sort());
    for (const o of operations)
      expect(o).toEqual({
        operation: o.operation,
        endpoint: operationRoutes[o.operation as OperationName],
        backends: ['simulated'],
      });
    // GPU time is what the two jobs reported (each rounded to the millisecond), and its cost.
    const usage = account.usage as { gpu_seconds: number; cost_usd: number };
    expect(Math.abs(usage.gpu_seconds - inferenceSeconds)).toBeLessThanOrEqual(0.002);
    // Rounded to the micro-dollar: at most half a millionth off (toBeCloseTo(…, 6) refuses exactly half).
    expect(Math.abs(usage.cost_usd - usage.gpu_seconds * GPU_COST_PER_SECOND_USD)).toBeLessThanOrEqual(
      5e-7 + 1e-12,
    );

    // Another tenant's account counts none of them.
    const other = sdkClient(api.baseUrl, await api.keyFor('sdk-account-other'));
    expect(await other.account()).toMatchObject({ tenant_id: 'sdk-account-other', usage: { jobs: 0 } });
    // And a key that is not one is the client's AuthenticationError.
    const err = await rejection(sdkClient(api.baseUrl, 'cf_not-a-key').account());
    expect(err).toBeInstanceOf(SdkAuthenticationError);
  });

  it('upload.image is refused 422 INPUT_INVALID saying to pass a URL, however the file is sent', async () => {
    const ip = sdkClient(api.baseUrl, await api.keyFor('sdk-upload'));
    const photo = await testImage('jpeg', 640, 480);
    // A camera photo is megabytes: the answer must still reach a client that sends the whole body first.
    const large = Buffer.concat([photo, Buffer.alloc(3 * 1024 * 1024, 7)]);
    for (const [data, asSent] of [
      [photo, true],
      [photo, false],
      [large, true],
      [large, false],
    ] as const) {
      const err = await rejection(ip.uploadImage(data, 'me.jpg', 'image/jpeg', asSent));
      expect(err).toBeInstanceOf(SdkApiError);
      const apiError = err as SdkApiError;
      expect({ status: apiError.statusCode, code: apiError.errorCode, size: data.length, asSent }).toEqual({
        status: 422,
        code: 'INPUT_INVALID',
        size: data.length,
        asSent,
      });
      expect(apiError.message).toMatch(/URL/);
      expect(apiError.message).toMatch(/never stores input images/);
      expectSpecError(apiError.answer, 'INPUT_INVALID');
    }
  });

  it('answers the client’s non-image endpoints 501 NOT_IMPLEMENTED in the §8 shape, naming each', async () => {
    const ip = sdkClient(api.baseUrl, await api.keyFor('sdk-not-run'));
    const face = 'https://images.example.com/face.png';
    const calls: Array<[string, Record<string, unknown>]> = [
      [
        '/generate/video/v1',
        {
          input_image: face,
          prompt: 'make this image come alive, cinematic motion, smooth animation',
          width: 896,
          height: 512,
          duration_seconds: pyFloat(2),
          seed: 42,
        },
      ],
      [
        '/generate/speech/v1',
        { text: 'hello', language_id: 'en', max_new_tokens: 256, exaggeration: 0.5, apply_watermark: true },
      ],
      ['/generate/3d/v1', { image_path: face, mode: 'generate_and_paint', auto_unload: true }],
      [
        '/identity/voice/clone/v1',
        {
          text: 'hello',
          reference_voice_url: 'https://voices.example.com/me.wav',
          language_id: 'en',
          max_new_tokens: 256,
          exaggeration: 0.5,
          apply_watermark: true,
        },
      ],
    ];
    for (const [route, body] of calls) {
      const err = await rejection(ip.submit(route.slice(1), body));
      expect(err).toBeInstanceOf(SdkApiError);
      const apiError = err as SdkApiError;
      expect({ route, status: apiError.statusCode, code: apiError.errorCode }).toEqual({
        route,
        status: 501,
        code: 'NOT_IMPLEMENTED',
      });
      expect(apiError.message).toContain(route);
      expectSpecError(apiError.answer, 'NOT_IMPLEMENTED');
    }
    // What it answers never depends on the body: not even one that is not JSON.
    const broken = await ip.send('POST', '/generate/video/v1', '{"input_image": ');
    expectSpecError(broken, 'NOT_IMPLEMENTED');
  });

  it('answers a known path asked with another method 405 with Allow, and changes nothing', async () => {
    const ip = sdkClient(api.baseUrl, await api.keyFor('sdk-wrong-method'));
    const profile = await ip.post('/profiles/v1', sdkBody.createProfile('Kept', { prompt_template: 'kept' }));
    const id = profile.profile_id as string;

    const put = await ip.send('PUT', `/profiles/v1/${id}`, '{"name": "Renamed"}');
    expectSpecError(put, 'METHOD_NOT_ALLOWED');
    const allow = String(put.headers.allow).split(/,\s*/).sort();
    expect(allow).toEqual(expect.arrayContaining(['DELETE', 'GET', 'PATCH']));
    expect(allow).not.toContain('PUT');
    expect(await ip.get(`/profiles/v1/${id}`)).toMatchObject({ name: 'Kept', version: 1 });

    for (const [method, path, allowed] of [
      ['GET', '/generate/image/v1', 'POST'],
      ['GET', '/identity/lock/image/v1', 'POST'],
      ['POST', '/v1/user/details', 'GET'],
      ['GET', '/upload/image/v1', 'POST'],
    ] as const) {
      const answer = await ip.send(method, path, method === 'POST' ? '{}' : undefined);
      expectSpecError(answer, 'METHOD_NOT_ALLOWED');
      expect({ path, allow: String(answer.headers.allow) }).toEqual({
        path,
        allow: expect.stringContaining(allowed),
      });
    }
  });
});

describe('the official client’s RateLimitError on a tiny write budget', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await startApi('story-sdk-429', {
      RATE_LIMIT_WRITES: '2',
      RATE_LIMIT_WRITES_WINDOW_SECONDS: '30',
    });
  });
  afterAll(() => api?.close());

  it('answers 429 with a Retry-After of whole seconds the client’s int() reads, and queues nothing for it', async () => {
    const tenant = 'sdk-rate-limited';
    const ip = sdkClient(api.baseUrl, await api.keyFor(tenant));
    const body = sdkBody.generateImage('a rate-limited cat');
    const first = await ip.submit('generate/image/v1', body);
    await ip.submit('generate/image/v1', body);

    const err = await rejection(ip.submit('generate/image/v1', body));
    expect(err).toBeInstanceOf(SdkRateLimitError);
    const limited = err as SdkRateLimitError;
    const header = limited.answer.headers['retry-after'];
    expect(header).toMatch(/^\d+$/);
    expect(pythonInt(header as string)).toBe(limited.retryAfter);
    expect(limited.retryAfter).toBeGreaterThanOrEqual(1);
    expect(limited.retryAfter).toBeLessThanOrEqual(30);
    expectSpecError(limited.answer, 'RATE_LIMIT_EXCEEDED');
    expect(limited.answer.headers['ratelimit-policy']).toBe('"writes";q=2;w=30');

    // Status reads have their own budget: the client can still poll what it submitted.
    expect(await ip.get(`/generate/image/v1/status/${first.job_id}`)).toMatchObject({ status: 'queued' });
    expect(await api.deps.jobs.inFlight(tenant)).toBe(2);
  });

  it('answers CONCURRENT_JOBS_EXCEEDED with a Retry-After the client reads too', async () => {
    // Another API on the same Redis, with room for one job in flight per tenant.
    const capped = await startApi('story-sdk-429-inflight', { TENANT_MAX_JOBS_IN_FLIGHT: '1' }, api.services);
    try {
      const ip = sdkClient(capped.baseUrl, await capped.keyFor('sdk-in-flight'));
      const body = sdkBody.generateImage('one at a time');
      await ip.submit('generate/image/v1', body);
      const err = await rejection(ip.submit('generate/image/v1', body));
      expect(err).toBeInstanceOf(SdkRateLimitError);
      const limited = err as SdkRateLimitError;
      expect(limited.answer.headers['retry-after']).toMatch(/^\d+$/);
      expect(limited.retryAfter).toBeGreaterThanOrEqual(1);
      expectSpecError(limited.answer, 'CONCURRENT_JOBS_EXCEEDED');
    } finally {
      await capped.close();
    }
  });
});

describe('the official client against a deployment whose only backend is a1111', () => {
  let api: ApiHarness;
  let stub: A1111Stub;
  let worker: WorkerHarness;
  let ip: SdkClient;

  beforeAll(async () => {
    api = await startApi('story-sdk-a1111-surface');
    stub = await startA1111Stub({ generationMs: 20 });
    worker = await startWorker(api.services, { INFERENCE_BACKEND: 'a1111', INFERENCE_URLS: stub.url });
    ip = sdkClient(api.baseUrl, await api.keyFor('sdk-a1111'));
    await waitFor(async () => ((await ip.account()).operations as unknown[]).length > 0, {
      timeoutMs: 10_000,
      intervalMs: 200,
      what: 'the a1111 worker to declare its operations',
    });
  });
  afterAll(async () => {
    await worker?.close();
    await stub?.close();
    await api?.close();
  });

  it('account() lists what a1111 runs: generate, lock and instamodel', async () => {
    expect((await ip.account()).operations).toEqual(
      expect.arrayContaining([
        { operation: 'generate', endpoint: '/generate/image/v1', backends: ['a1111'] },
        { operation: 'lock', endpoint: '/identity/lock/image/v1', backends: ['a1111'] },
        { operation: 'instamodel', endpoint: '/creator/instamodel/image/v1', backends: ['a1111'] },
      ]),
    );
    expect(((await ip.account()).operations as unknown[]).length).toBe(3);
  });

  it('answers the image tools no backend declares 501 NOT_IMPLEMENTED naming the endpoint', async () => {
    const face = 'https://images.example.com/face.png';
    for (const [route, body] of [
      ['/edit/image/v1', { prompt: 'make it red', seed: -1, output_format: 'webp', faster_inference: true }],
      ['/background/remove/image/v1', { input_image: face, drop_shadow: false, output_format: 'png' }],
      ['/upscale/image/v1', { input_image: face, scale: 4, output_format: 'webp' }],
    ] as const) {
      const err = await rejection(ip.submit(route.slice(1), body));
      expect(err).toBeInstanceOf(SdkApiError);
      const apiError = err as SdkApiError;
      expect({ route, status: apiError.statusCode, code: apiError.errorCode }).toEqual({
        route,
        status: 501,
        code: 'NOT_IMPLEMENTED',
      });
      expect(apiError.message).toContain(route);
      expectSpecError(apiError.answer, 'NOT_IMPLEMENTED');
    }
  });

  it('refuses an identity call a1111 cannot run with 422 naming the operation and the backends that would', async () => {
    const face = 'https://images.example.com/face.png';
    for (const [operation, endpoint, body] of [
      ['faceswap', 'identity/faceswap/image/v1', sdkBody.faceswap(face, face)],
      ['replace', 'identity/replace/image/v1', sdkBody.lock(face, 'a man')],
      ['tryon', 'creator/tryon/image/v1', sdkBody.tryon(face, face)],
    ] as const) {
      const err = await rejection(ip.submit(endpoint, body));
      expect(err).toBeInstanceOf(SdkApiError);
      const apiError = err as SdkApiError;
      expect({ operation, status: apiError.statusCode }).toEqual({ operation, status: 422 });
      expect(apiError.message).toContain(operation);
      expect(apiError.message).toContain('a1111');
      expect(apiError.message).toContain('simulated');
    }
    expect(stub.requests).toHaveLength(0);
  });
});
