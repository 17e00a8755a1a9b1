import { testLogger, waitFor } from '@castforge/testkit';
import { failure, makeRequest, pngOf, templatesDir } from '@castforge/testkit/comfyui-kit';
import { type ComfyStubOptions, startComfyStub } from '@castforge/testkit/comfyui-stub';
import sharp from 'sharp';
import { type Endpoint } from '../inference-backend';
import { type ComfyuiTimings, createComfyuiBackend, promptIdOf } from './comfyui-backend';
import { CACHE_KEY_INPUT } from './prompt-run';

const logger = testLogger('comfyui-recovery.test');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An upscale workflow on comfyui-tooling-nodes only: base64 in, ETN_SendImageWebSocket out. */
const upscale = {
  '1': { class_type: 'ETN_LoadImageBase64', inputs: { image: '{{image:input_image}}' } },
  '2': {
    class_type: 'ImageScaleBy',
    inputs: { image: ['1', 0], upscale_method: 'lanczos', scale_by: '{{option:upscale|2}}' },
  },
  '3': { class_type: 'ETN_SendImageWebSocket', inputs: { images: ['2', 0], format: 'PNG' } },
};

async function setUp(options: { stub?: ComfyStubOptions; timings?: Partial<ComfyuiTimings> } = {}) {
  const stub = await startComfyStub(options.stub);
  cleanups.push(() => stub.close());
  const templates = templatesDir(['generate.json'], { 'upscale.json': upscale });
  cleanups.push(templates.cleanup);
  const backend = createComfyuiBackend({ workflowsDir: templates.dir, logger, timings: options.timings });
  const endpoint: Endpoint = { index: 0, url: stub.url };
  await backend.init!([endpoint]);
  return { stub, backend, endpoint };
}

const pngSize = async (image: Buffer) => {
  const { width, height } = await sharp(image).metadata();
  return { width, height };
};

describe('comfyui backend: a dropped websocket', () => {
  it('mid-run: reconnects under the same client id and takes the image from the same run', async () => {
    const { stub, backend, endpoint } = await setUp();
    stub.script({ hold: true });
    const request = makeRequest();
    const pending = backend.run(endpoint, request);
    await waitFor(() => stub.running() === promptIdOf(request.jobId), { what: 'the prompt to run' });

    stub.dropSockets();
    await waitFor(() => stub.upgrades.length === 2, { what: 'the reconnect' });
    stub.release();
    const result = await pending;

    expect(await pngSize(result.image)).toEqual({ width: 64, height: 96 });
    expect(stub.submissions).toHaveLength(1);
    expect(new Set(stub.upgrades.map((u) => u.clientId)).size).toBe(1);
    expect(stub.historyIds()).toEqual([]);
  });

  it('while the image was being sent: runs the prompt once more (the image exists only on the socket)', async () => {
    const { stub, backend, endpoint } = await setUp();
    stub.script({ dropSocketBeforeImage: true });

    const result = await backend.run(endpoint, makeRequest({ seed: 5 }));

    expect(await pngSize(result.image)).toEqual({ width: 64, height: 96 });
    expect(stub.submissions).toHaveLength(2);
    expect(stub.submissions[1]!.body.prompt_id).toBe(stub.submissions[0]!.body.prompt_id);
    expect(stub.historyIds()).toEqual([]);
  });

  it('twice in a row: fails MODEL_ERROR (retryable) saying the image was lost', async () => {
    const { stub, backend, endpoint } = await setUp();
    stub.script({ dropSocketBeforeImage: true, times: 2 });

    const err = await failure(backend.run(endpoint, makeRequest()));

    expect(err).toMatchObject({ code: 'MODEL_ERROR', retryable: true });
    expect(err.message).toContain('its image was lost twice');
    expect(stub.historyIds()).toEqual([]);
  });

  it('a socket left open but deaf is noticed by polling the server', async () => {
    const { stub, backend, endpoint } = await setUp({
      timings: { pollIntervalMs: 100, cancelSettleMs: 100 },
    });
    stub.script({ hold: true });
    const request = makeRequest();
    const pending = backend.run(endpoint, request);
    await waitFor(() => stub.running() === promptIdOf(request.jobId), { what: 'the prompt to run' });

    stub.deafen();
    stub.release();
    const result = await pending;

    expect(result.image.length).toBeGreaterThan(0);
    expect(stub.submissions).toHaveLength(2);
    expect(stub.historyIds()).toEqual([]);
  });
});

describe('comfyui backend: a server restart mid-job', () => {
  it('reconnects once the server is back, finds the prompt gone, and runs it again', async () => {
    const { stub, backend, endpoint } = await setUp();
    stub.script({ hold: true });
    const request = makeRequest();
    const pending = backend.run(endpoint, request);
    await waitFor(() => stub.running() === promptIdOf(request.jobId), { what: 'the prompt to run' });

    await stub.restart({ downMs: 300 });
    const result = await pending;

    expect(await pngSize(result.image)).toEqual({ width: 64, height: 96 });
    expect(stub.submissions).toHaveLength(2);
    expect(stub.historyIds()).toEqual([]);
  });

  it('fails MODEL_UNAVAILABLE when it does not come back within the reconnect window', async () => {
    const { stub, backend, endpoint } = await setUp({ timings: { reconnectWindowMs: 300 } });
    stub.script({ hold: true });
    const request = makeRequest();
    const pending = failure(backend.run(endpoint, request));
    await waitFor(() => stub.running() === promptIdOf(request.jobId), { what: 'the prompt to run' });

    await stub.close();
    const err = await pending;

    expect(err).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
    expect(err.message).toContain('could not reconnect within 300 ms');
  });
});

describe('comfyui backend: idempotent resubmits', () => {
  it('a retry of a job whose prompt is still queued follows that prompt instead of queueing another', async () => {
    const { stub, backend, endpoint } = await setUp();
    await backend.run(endpoint, makeRequest());
    const retry = makeRequest({ seed: 99 });
    const promptId = promptIdOf(retry.jobId);
    // What an earlier attempt whose worker died left behind: the same prompt id and client id, still queued.
    stub.pause();
    await fetch(`${stub.url}/prompt`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        prompt: stub.submissions[0]!.body.prompt,
        prompt_id: promptId,
        client_id: `castforge-${promptId}`,
      }),
    });

    const pending = backend.run(endpoint, retry);
    await waitFor(() => stub.upgrades.length === 2, { what: 'the retry’s socket' });
    stub.resume();
    const result = await pending;

    expect(result.image.length).toBeGreaterThan(0);
    // The first run's and the earlier attempt's: the retry submitted nothing.
    expect(stub.submissions).toHaveLength(2);
    expect(stub.submissions[1]!.body.prompt_id).toBe(promptId);
    expect(stub.historyIds()).toEqual([]);
  });

  it('on a server that picks its own prompt ids (before 0.3.45), uses the one it answers', async () => {
    const { stub, backend, endpoint } = await setUp({ stub: { clientPromptIds: false } });

    const result = await backend.run(endpoint, makeRequest());

    expect(result.image.length).toBeGreaterThan(0);
    expect(stub.historyDeletes).toHaveLength(1);
    expect(stub.historyDeletes[0]).not.toBe(stub.submissions[0]!.body.prompt_id);
    expect(stub.historyIds()).toEqual([]);
  });
});

describe('comfyui backend: ETN_SendImageWebSocket and legacy image frames', () => {
  it('takes the image from legacy frames, binds options, and gets it again when the same job repeats', async () => {
    const { stub, backend, endpoint } = await setUp({ stub: { featureFlags: false } });
    const face = await pngOf(30, 20);
    const request = () =>
      makeRequest({
        operation: 'upscale',
        images: { input_image: { data: face, mimeType: 'image/png', width: 30, height: 20 } },
        options: { upscale: 3 },
      });

    const first = await backend.run(endpoint, request());
    const second = await backend.run(endpoint, request());

    expect(await pngSize(first.image)).toEqual({ width: 90, height: 60 });
    expect(second.image.equals(first.image)).toBe(true);
    // ComfyUI would serve the output node from its cache (no IS_CHANGED) and send no frame, but for this key.
    const keys = stub.submissions.map(
      (s) =>
        (s.body.prompt as Record<string, { inputs: Record<string, unknown> }>)['3']!.inputs[CACHE_KEY_INPUT],
    );
    expect(keys[0]).not.toEqual(keys[1]);
    expect(stub.historyIds()).toEqual([]);
  });
});
