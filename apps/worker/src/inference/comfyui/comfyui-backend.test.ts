import { testLogger } from '@castforge/testkit';
import { type ComfyStub, type ComfyStubOptions, startComfyStub } from '@castforge/testkit/comfyui-stub';
import { makeRequest, pngOf, templatesDir } from '@castforge/testkit/comfyui-kit';
import sharp from 'sharp';
import { type Endpoint } from '../inference-backend';
import { type ComfyuiBackendOptions, createComfyuiBackend, promptIdOf } from './comfyui-backend';

const logger = testLogger('comfyui-backend.test');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(options: { stub?: ComfyStubOptions; backend?: Partial<ComfyuiBackendOptions> } = {}) {
  const stub = await startComfyStub(options.stub);
  cleanups.push(() => stub.close());
  const templates = templatesDir(['generate.json', 'lock.json']);
  cleanups.push(templates.cleanup);
  const backend = createComfyuiBackend({ workflowsDir: templates.dir, logger, ...options.backend });
  const endpoint: Endpoint = { index: 0, url: stub.url };
  await backend.init!([endpoint]);
  return { stub, backend, endpoint };
}

type Prompt = Record<string, { class_type: string; inputs: Record<string, unknown> }>;
const submitted = (stub: ComfyStub, index = 0) => stub.submissions[index]!.body.prompt as Prompt;

/** Nothing of the job stays on the GPU box: no upload, no saved file, no /view read, no history entry. */
function expectNothingLeft(stub: ComfyStub) {
  expect(stub.uploads).toEqual([]);
  expect(stub.savedFiles).toEqual([]);
  expect(stub.views).toEqual([]);
  expect(stub.historyIds()).toEqual([]);
  expect(stub.running()).toBeUndefined();
  expect(stub.pending()).toEqual([]);
}

describe('comfyui backend: the shipped generate template', () => {
  it('binds the merged prompt, pinned seed, size, steps, cfg, checkpoint and LoRAs to the right node inputs', async () => {
    const { stub, backend, endpoint } = await setUp();
    const request = makeRequest({
      prompt: 'portrait of a lighthouse keeper, cinematic light, 35mm film',
      negativePrompt: 'lowres, watermark',
      seed: 987654321,
      width: 96,
      height: 64,
      steps: 9,
      guidance: 4.5,
      adapter: {
        model: 'juggernautXL_v9.safetensors',
        loras: [
          { name: 'keeper_face.safetensors', weight: 0.8 },
          { name: 'film_grain.safetensors', weight: 0.35 },
        ],
        extra: { sampler_name: 'dpmpp_2m', scheduler: 'karras' },
      },
    });

    const result = await backend.run(endpoint, request);

    const prompt = submitted(stub);
    expect(prompt['6']!.inputs.text).toBe('portrait of a lighthouse keeper, cinematic light, 35mm film');
    expect(prompt['7']!.inputs.text).toBe('lowres, watermark');
    expect(prompt['5']!.inputs).toMatchObject({ width: 96, height: 64, batch_size: 1 });
    expect(prompt['3']!.inputs).toMatchObject({
      seed: 987654321,
      steps: 9,
      cfg: 4.5,
      sampler_name: 'dpmpp_2m',
      scheduler: 'karras',
    });
    expect(prompt['4']!.inputs.ckpt_name).toBe('juggernautXL_v9.safetensors');
    // The LoRA slot became a chain of two loaders; its consumers read the last one.
    expect(prompt['10']!.inputs).toMatchObject({
      lora_name: 'keeper_face.safetensors',
      strength_model: 0.8,
      model: ['4', 0],
    });
    expect(prompt['10_lora1']!.inputs).toMatchObject({
      lora_name: 'film_grain.safetensors',
      strength_clip: 0.35,
      model: ['10', 0],
      clip: ['10', 1],
    });
    expect(prompt['3']!.inputs.model).toEqual(['10_lora1', 0]);
    expect(prompt['6']!.inputs.clip).toEqual(['10_lora1', 1]);
    expect(stub.submissions[0]!.body.prompt_id).toBe(promptIdOf(request.jobId));

    expect(result.seed).toBe(987654321);
    expect(await sharp(result.image).metadata()).toMatchObject({ format: 'png', width: 96, height: 64 });
    expectNothingLeft(stub);
  });

  it('without LoRAs, bypasses the slot; without a model, uses the template’s fallback checkpoint', async () => {
    const { stub, backend, endpoint } = await setUp();

    await backend.run(endpoint, makeRequest({ negativePrompt: undefined }));

    const prompt = submitted(stub);
    expect(prompt['10']).toBeUndefined();
    expect(prompt['3']!.inputs.model).toEqual(['4', 0]);
    expect(prompt['6']!.inputs.clip).toEqual(['4', 1]);
    expect(prompt['7']!.inputs.text).toBe('');
    expect(prompt['4']!.inputs.ckpt_name).toBe('sd_xl_base_1.0.safetensors');
  });

  it('reports increasing progress from the sampler’s steps, ending at 1', async () => {
    const { backend, endpoint } = await setUp({ stub: { stepMs: 10 } });
    const seen: number[] = [];

    await backend.run(endpoint, makeRequest({ steps: 8, onProgress: (fraction) => seen.push(fraction) }));

    expect(seen.filter((value) => value > 0 && value < 1).length).toBeGreaterThanOrEqual(4);
    expect(seen.every((value, i) => i === 0 || value > seen[i - 1]!)).toBe(true);
    expect(seen.at(-1)).toBe(1);
  });

  it('the same job gives the same image, another seed another one (nothing is served stale from a cache)', async () => {
    const { stub, backend, endpoint } = await setUp();

    const first = await backend.run(endpoint, makeRequest());
    const again = await backend.run(endpoint, makeRequest());
    const other = await backend.run(endpoint, makeRequest({ seed: 1235 }));

    expect(again.image.equals(first.image)).toBe(true);
    expect(other.image.equals(first.image)).toBe(false);
    expect(stub.submissions).toHaveLength(3);
    expectNothingLeft(stub);
  });
});

describe('comfyui backend: the shipped lock template (InstantID)', () => {
  it('sends the face inline as bare base64, binds the identity strength, and returns the image', async () => {
    const { stub, backend, endpoint } = await setUp();
    const face = await pngOf(40, 48);
    const request = makeRequest({
      operation: 'lock',
      images: { input_image: { data: face, mimeType: 'image/png', width: 40, height: 48 } },
      prompt: 'the keeper on a cliff at dawn',
      seed: 42,
      width: 72,
      height: 80,
      adapter: { identity_adapter: 'instantid', identity_strength: 0.65, extra: { sampler_name: 'ddpm' } },
    });

    const result = await backend.run(endpoint, request);

    const prompt = submitted(stub);
    expect(prompt['6']).toMatchObject({
      class_type: 'ETN_LoadImageBase64',
      inputs: { image: face.toString('base64') },
    });
    expect(prompt['9']!.inputs).toMatchObject({ weight: 0.65, image: ['6', 0], model: ['1', 0] });
    expect(prompt['7']!.inputs.text).toBe('the keeper on a cliff at dawn');
    expect(prompt['11']!.inputs).toMatchObject({
      seed: 42,
      sampler_name: 'ddpm',
      scheduler: 'normal',
      positive: ['9', 1],
      negative: ['9', 2],
    });
    expect(prompt['10']!.inputs).toMatchObject({ width: 72, height: 80 });
    expect(await sharp(result.image).metadata()).toMatchObject({ width: 72, height: 80 });
    expectNothingLeft(stub);
  });

  it('without an identity strength in the profile, uses the template’s fallback (0.8)', async () => {
    const { stub, backend, endpoint } = await setUp();
    const face = await pngOf(32, 32);

    await backend.run(
      endpoint,
      makeRequest({
        operation: 'lock',
        images: { input_image: { data: face, mimeType: 'image/png', width: 32, height: 32 } },
      }),
    );

    expect(submitted(stub)['9']!.inputs.weight).toBe(0.8);
  });
});

describe('comfyui backend: zero retention on the GPU box', () => {
  it('deletes the history entry even though ComfyUI files it after telling the client the prompt succeeded', async () => {
    const { stub, backend, endpoint } = await setUp({ stub: { historyDelayMs: 300 } });

    await backend.run(endpoint, makeRequest());

    expect(stub.historyIds()).toEqual([]);
    expect(stub.historyDeletes).toContain(stub.submissions[0]!.body.prompt_id);
  });

  it('declares the operations of the templates present, and sends the proxy header everywhere', async () => {
    const header = { name: 'X-Proxy-Key', value: 'sesame' };
    const { stub, backend, endpoint } = await setUp({
      stub: { requireHeader: header },
      backend: { headers: { [header.name]: header.value } },
    });

    await backend.run(endpoint, makeRequest());

    expect([...backend.operations].sort()).toEqual(['generate', 'lock']);
    expect(stub.requests.length).toBeGreaterThan(3);
    expect(stub.requests.every((r) => r.headers['x-proxy-key'] === 'sesame')).toBe(true);
    expect(stub.upgrades.map((u) => u.headers['x-proxy-key'])).toEqual(['sesame']);
  });
});

describe('comfyui backend: a token in the server URL', () => {
  it('keeps the URL’s query (ComfyUI-Login’s ?token=) on every route and on the websocket', async () => {
    const stub = await startComfyStub();
    cleanups.push(() => stub.close());
    const templates = templatesDir(['generate.json']);
    cleanups.push(templates.cleanup);
    const backend = createComfyuiBackend({ workflowsDir: templates.dir, logger });
    const endpoint: Endpoint = { index: 0, url: `${stub.url}/?token=s3cret` };
    await backend.init!([endpoint]);

    const result = await backend.run(endpoint, makeRequest());

    expect(result.image.length).toBeGreaterThan(0);
    expect(stub.requests.every((r) => new URLSearchParams(r.search).get('token') === 's3cret')).toBe(true);
    expect(stub.upgrades.map((u) => new URLSearchParams(u.search).get('token'))).toEqual(['s3cret']);
  });
});
