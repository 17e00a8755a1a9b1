import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { testLogger } from '@castforge/testkit';
import { type A1111Stub, type A1111StubOptions, startA1111Stub } from '@castforge/testkit/a1111-stub';
import sharp from 'sharp';
import { createA1111Backend } from './a1111';
import {
  type Endpoint,
  type InferenceRequest,
  InferenceError,
  JobCancelledError,
  JobTimeoutError,
} from './inference-backend';

const logger = testLogger('a1111.test');
const stubs: A1111Stub[] = [];
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((stub) => stub.close()));
});

async function openStub(options?: A1111StubOptions) {
  const stub = await startA1111Stub(options);
  stubs.push(stub);
  return { stub, endpoint: { index: 0, url: stub.url } satisfies Endpoint };
}

function makeRequest(overrides: Partial<InferenceRequest> = {}): InferenceRequest {
  return {
    jobId: `job_${randomBytes(8).toString('hex')}`,
    operation: 'generate',
    images: {},
    options: {},
    prompt: 'portrait of a lighthouse keeper',
    negativePrompt: 'blurry',
    steps: 12,
    guidance: 6.5,
    seed: 1234,
    width: 64,
    height: 96,
    outputFormat: 'png',
    signal: new AbortController().signal,
    onProgress: () => undefined,
    ...overrides,
  };
}

/** Resolves to the InferenceError a generation failed with, or fails the test if it succeeded. */
async function failure(promise: Promise<unknown>): Promise<InferenceError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof InferenceError)) throw new Error(`expected an InferenceError, got ${String(err)}`);
  return err;
}

async function waitFor(condition: () => boolean, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const backend = createA1111Backend({ logger, progressIntervalMs: 20 });

/**
 * Polling has stopped: a poll already on the wire when the generation ended may still reach the stub, so
 * the count is taken once that one has landed, then must stay put over ten more poll intervals.
 */
async function expectPollingStopped(stub: A1111Stub) {
  await new Promise((resolve) => setTimeout(resolve, 60));
  const polls = stub.progressPolls;
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(stub.progressPolls).toBe(polls);
}

describe('a1111 backend: the txt2img body', () => {
  it('sends the prompt with one <lora:name:weight> token per LoRA, the checkpoint as an override, and the job id as force_task_id', async () => {
    const { stub, endpoint } = await openStub();
    const request = makeRequest({
      adapter: {
        model: 'juggernautXL_v9.safetensors',
        loras: [
          { name: 'keeper_face', weight: 0.8 },
          { name: 'film grain', weight: -1 },
        ],
      },
    });

    await backend.run(endpoint, request);

    expect(stub.requests).toHaveLength(1);
    expect(stub.requests[0]!.body).toEqual({
      prompt: 'portrait of a lighthouse keeper <lora:keeper_face:0.8> <lora:film grain:-1>',
      negative_prompt: 'blurry',
      steps: 12,
      cfg_scale: 6.5,
      seed: 1234,
      width: 64,
      height: 96,
      batch_size: 1,
      n_iter: 1,
      send_images: true,
      save_images: false,
      force_task_id: request.jobId,
      override_settings: { sd_model_checkpoint: 'juggernautXL_v9.safetensors' },
      override_settings_restore_afterwards: true,
    });
  });

  it('without a model or LoRAs, sends the prompt as is and no override_settings', async () => {
    const { stub, endpoint } = await openStub();

    await backend.run(endpoint, makeRequest({ negativePrompt: undefined }));

    const body = stub.requests[0]!.body;
    expect(body.prompt).toBe('portrait of a lighthouse keeper');
    expect(body.negative_prompt).toBe('');
    expect(body).not.toHaveProperty('override_settings');
    expect(body).not.toHaveProperty('override_settings_restore_afterwards');
  });

  it('merges adapter.extra for fields it does not own, but extra never overrides the fields the adapter owns', async () => {
    const { stub, endpoint } = await openStub();
    const alwayson = { controlnet: { args: [{ module: 'instant_id_face_embedding', weight: 0.9 }] } };
    const request = makeRequest({
      adapter: {
        model: 'flux1-dev.safetensors',
        identity_adapter: 'instantid',
        identity_strength: 0.9,
        extra: {
          sampler_name: 'DPM++ 2M',
          scheduler: 'Karras',
          distilled_cfg_scale: 3.5,
          alwayson_scripts: alwayson,
          override_settings: { sd_vae: 'ae.safetensors', sd_model_checkpoint: 'other.safetensors' },
          prompt: 'something else',
          seed: 7,
          steps: 150,
          width: 2048,
          batch_size: 4,
          send_images: false,
          force_task_id: 'not-the-job',
          override_settings_restore_afterwards: false,
          infotext: 'Steps: 99, Seed: 1',
        },
      },
    });

    await backend.run(endpoint, request);

    const body = stub.requests[0]!.body;
    expect(body).toMatchObject({
      sampler_name: 'DPM++ 2M',
      scheduler: 'Karras',
      distilled_cfg_scale: 3.5,
      alwayson_scripts: alwayson,
      override_settings: { sd_vae: 'ae.safetensors', sd_model_checkpoint: 'flux1-dev.safetensors' },
      override_settings_restore_afterwards: true,
      prompt: 'portrait of a lighthouse keeper',
      seed: 1234,
      steps: 12,
      width: 64,
      batch_size: 1,
      send_images: true,
      force_task_id: request.jobId,
    });
    expect(body).not.toHaveProperty('infotext');
    // No native field exists for the identity adapter: only what the operator put in extra reaches A1111.
    expect(JSON.stringify(body)).not.toMatch(/identity_adapter|identity_strength/);
  });
});

describe('a1111 backend: the result', () => {
  it('returns PNG bytes of the requested size and the seed A1111 reports in info', async () => {
    const { endpoint } = await openStub();

    const result = await backend.run(endpoint, makeRequest({ width: 128, height: 72, seed: 99 }));

    expect(result.seed).toBe(99);
    const meta = await sharp(result.image).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 128, height: 72 });
  });

  it('the same request gives identical bytes, and another seed gives other bytes', async () => {
    const { endpoint } = await openStub({ generationMs: 10 });

    const first = await backend.run(endpoint, makeRequest());
    const again = await backend.run(endpoint, makeRequest());
    const other = await backend.run(endpoint, makeRequest({ seed: 1235 }));

    expect(again.image.equals(first.image)).toBe(true);
    expect(other.image.equals(first.image)).toBe(false);
  });

  it('reports info.seed when it differs from the requested seed, else all_seeds[0]', async () => {
    const { stub, endpoint } = await openStub({ generationMs: 10 });
    const rewriteInfo = (info: Record<string, unknown>) => ({
      reshape: (response: { info: string }) => ({ ...response, info: JSON.stringify(info) }),
    });
    stub.script(rewriteInfo({ seed: 4242, all_seeds: [4242] }), rewriteInfo({ all_seeds: [777] }));

    expect((await backend.run(endpoint, makeRequest())).seed).toBe(4242);
    expect((await backend.run(endpoint, makeRequest())).seed).toBe(777);
  });

  it('accepts images sent with a data:image/png;base64, prefix', async () => {
    const { stub, endpoint } = await openStub();
    stub.script({
      reshape: (response) => ({
        ...response,
        images: response.images.map((b64) => `data:image/png;base64,${b64}`),
      }),
    });

    const result = await backend.run(endpoint, makeRequest());

    expect((await sharp(result.image).metadata()).width).toBe(64);
  });

  it('when a 2xx has no image, or info is not JSON, fails with MODEL_ERROR', async () => {
    const { stub, endpoint } = await openStub({ generationMs: 10 });
    stub.script(
      { reshape: (response) => ({ ...response, images: [] }) },
      { reshape: (response) => ({ ...response, info: 'Steps: 20, Seed: 1' }) },
    );

    for (let attempt = 0; attempt < 2; attempt += 1) {
      const err = await failure(backend.run(endpoint, makeRequest()));
      expect(err).toMatchObject({ code: 'MODEL_ERROR', retryable: true });
    }
  });
});

describe('a1111 backend: progress', () => {
  it('reports the progress of its own task, only ever increasing, ending at 1', async () => {
    const { stub, endpoint } = await openStub({ generationMs: 600 });
    const seen: number[] = [];

    await backend.run(endpoint, makeRequest({ steps: 20, onProgress: (fraction) => seen.push(fraction) }));

    const during = seen.filter((value) => value > 0 && value < 1);
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(seen.every((value, i) => i === 0 || value > seen[i - 1]!)).toBe(true);
    expect(seen.at(-1)).toBe(1);
    await expectPollingStopped(stub);
  });
});

describe('a1111 backend: HTTP Basic auth', () => {
  const auth = { username: 'castforge', password: 's3cret:with-colon' };

  it('sends the credentials on the txt2img request and on every progress poll', async () => {
    const { stub, endpoint } = await openStub({ auth, generationMs: 300 });
    const withAuth = createA1111Backend({ auth, logger, progressIntervalMs: 20 });
    const seen: number[] = [];

    await withAuth.run(endpoint, makeRequest({ onProgress: (fraction) => seen.push(fraction) }));

    const expected = `Basic ${Buffer.from('castforge:s3cret:with-colon').toString('base64')}`;
    expect(stub.requests[0]!.headers.authorization).toBe(expected);
    expect(stub.progressPolls).toBeGreaterThan(0);
    expect(seen.some((value) => value > 0 && value < 1)).toBe(true);
  });

  it('with a wrong password, fails with MODEL_UNAVAILABLE (retryable) and says to check the credentials', async () => {
    const { endpoint } = await openStub({ auth });
    const wrong = createA1111Backend({ auth: { ...auth, password: 'nope' }, logger });

    const err = await failure(wrong.run(endpoint, makeRequest()));

    expect(err).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
    expect(err.message).toMatch(/401.*--api-auth/);
  });
});

describe('a1111 backend: failures', () => {
  it('when A1111 answers 500, fails with MODEL_ERROR (retryable), and succeeds once it recovers', async () => {
    const { stub, endpoint } = await openStub({ generationMs: 10 });
    stub.script({ status: 500, body: { error: 'OutOfMemoryError', detail: 'CUDA out of memory' }, times: 2 });

    for (let attempt = 0; attempt < 2; attempt += 1) {
      const err = await failure(backend.run(endpoint, makeRequest()));
      expect(err).toMatchObject({ code: 'MODEL_ERROR', retryable: true });
      expect(err.message).toContain('OutOfMemoryError; detail: CUDA out of memory');
    }
    await expect(backend.run(endpoint, makeRequest())).resolves.toMatchObject({ seed: 1234 });
  });

  it('when A1111 answers 422, fails with INPUT_INVALID (not retryable) and carries the detail', async () => {
    const { stub, endpoint } = await openStub();
    stub.script({
      status: 422,
      body: { error: 'ValidationError', detail: 'script "ControlNet" is not alwayson', body: '', errors: '' },
    });

    const err = await failure(backend.run(endpoint, makeRequest()));

    expect(err).toMatchObject({ code: 'INPUT_INVALID', retryable: false });
    expect(err.message).toBe(
      'a1111 answered 422: ValidationError; detail: script "ControlNet" is not alwayson',
    );
  });

  it.each([
    [400, 'INPUT_INVALID'],
    [413, 'INPUT_INVALID'],
    [302, 'MODEL_UNAVAILABLE'],
    [401, 'MODEL_UNAVAILABLE'],
    [403, 'MODEL_UNAVAILABLE'],
    [404, 'MODEL_UNAVAILABLE'],
    [405, 'MODEL_UNAVAILABLE'],
    [408, 'MODEL_UNAVAILABLE'],
    [429, 'MODEL_UNAVAILABLE'],
    [502, 'MODEL_ERROR'],
    [503, 'MODEL_ERROR'],
  ])('when A1111 answers %i, fails with %s', async (status, code) => {
    const { stub, endpoint } = await openStub();
    stub.script({ status });

    const err = await failure(backend.run(endpoint, makeRequest()));

    expect(err.code).toBe(code);
    expect(err.message).toContain(String(status));
  });

  it('an unknown sampler is the input’s fault even when an older build answers 404', async () => {
    const { stub, endpoint } = await openStub();
    stub.script({ status: 404, body: { error: 'HTTPException', detail: 'Sampler not found' } });

    const err = await failure(backend.run(endpoint, makeRequest()));

    expect(err).toMatchObject({ code: 'INPUT_INVALID', retryable: false });
  });

  it('keeps error messages short and never echoes base64 from the request', async () => {
    const { stub, endpoint } = await openStub();
    const face = randomBytes(3000).toString('base64');
    stub.script({
      status: 422,
      body: { error: 'ValidationError', detail: 'x'.repeat(2000), body: { image: face } },
    });

    const err = await failure(backend.run(endpoint, makeRequest()));

    expect(err.message.length).toBeLessThanOrEqual(500);
    expect(err.message).not.toContain(face.slice(0, 50));
  });

  it('when nothing listens on the port, fails with MODEL_UNAVAILABLE', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));

    const err = await failure(backend.run({ index: 3, url: `http://127.0.0.1:${port}` }, makeRequest()));

    expect(err).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
    expect(err.message).toContain('ECONNREFUSED');
  });
});

describe('a1111 backend: abort', () => {
  const auth = { username: 'castforge', password: 'pw' };
  const withAuth = createA1111Backend({ auth, logger, progressIntervalMs: 20 });

  it('when the time budget aborts a hung generation, interrupts A1111 and fails with TIMEOUT at once', async () => {
    const { stub, endpoint } = await openStub({ auth });
    stub.script({ hang: true });
    const controller = new AbortController();
    const pending = failure(withAuth.run(endpoint, makeRequest({ signal: controller.signal })));
    await waitFor(() => stub.requests.length === 1 && stub.progressPolls > 0);

    const abortedAt = Date.now();
    controller.abort(new JobTimeoutError('the job passed its 5 s time budget'));
    const err = await pending;

    expect(Date.now() - abortedAt).toBeLessThan(1000);
    expect(err).toMatchObject({
      code: 'TIMEOUT',
      retryable: true,
      message: 'the job passed its 5 s time budget',
    });
    // Interrupts are counted only when authorised, so this also shows the credentials went with it.
    expect(stub.interrupts).toBe(1);
  });

  it('when the job is cancelled mid-generation, interrupts A1111 and fails with CANCELLED', async () => {
    const { stub, endpoint } = await openStub({ auth, generationMs: 5000 });
    const controller = new AbortController();
    const pending = failure(withAuth.run(endpoint, makeRequest({ signal: controller.signal })));
    await waitFor(() => stub.requests.length === 1);

    controller.abort(new JobCancelledError('cancelled by the caller'));
    const err = await pending;

    expect(err).toMatchObject({ code: 'CANCELLED', retryable: false });
    expect(stub.interrupts).toBe(1);
  });

  it('when the signal is already aborted, sends nothing', async () => {
    const { stub, endpoint } = await openStub();
    const controller = new AbortController();
    controller.abort(new JobCancelledError('cancelled while queued'));

    const err = await failure(backend.run(endpoint, makeRequest({ signal: controller.signal })));

    expect(err.code).toBe('CANCELLED');
    expect(stub.requests).toHaveLength(0);
    expect(stub.interrupts).toBe(0);
  });

  it('after a generation ends, no longer polls nor interrupts when the signal aborts later', async () => {
    const { stub, endpoint } = await openStub();
    const controller = new AbortController();

    await backend.run(endpoint, makeRequest({ signal: controller.signal }));
    controller.abort(new JobCancelledError('too late'));

    await expectPollingStopped(stub);
    expect(stub.interrupts).toBe(0);
  });
});

describe('a1111 stub (shared test support)', () => {
  it('answers seed -1 with the random seed it picked, in info.seed and info.all_seeds', async () => {
    const { stub } = await openStub({ generationMs: 10 });

    const res = await fetch(`${stub.url}/sdapi/v1/txt2img`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: 'x', seed: -1, width: 16, height: 16, steps: 2 }),
    });
    const info = JSON.parse(((await res.json()) as { info: string }).info);

    expect(res.status).toBe(200);
    expect(info.seed).toBeGreaterThanOrEqual(0);
    expect(info.all_seeds).toEqual([info.seed]);
  });

  it('refuses a request without credentials with 401 and WWW-Authenticate: Basic', async () => {
    const { stub } = await openStub({ auth: { username: 'u', password: 'p' } });

    const res = await fetch(`${stub.url}/sdapi/v1/progress`);

    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic');
  });

  it('with delayMs, answers later but still answers', async () => {
    const { stub, endpoint } = await openStub({ generationMs: 10 });
    stub.script({ delayMs: 150 });
    const started = Date.now();

    await expect(backend.run(endpoint, makeRequest())).resolves.toMatchObject({ seed: 1234 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });
});
