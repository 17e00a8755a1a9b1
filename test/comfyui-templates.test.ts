/**
 * The shipped ComfyUI templates through the whole stack (issue 11, "What will be checked"): a user creates a
 * fixed-seed profile, submits `POST /generate/image/v1` and `POST /identity/lock/image/v1` over HTTP, a worker
 * pool with INFERENCE_BACKEND=comfyui and examples/comfyui/workflows drives the stub ComfyUI, and the user
 * polls the job and downloads the image. What the stub received shows where each job field landed; what it
 * still holds afterwards shows that nothing of the job stayed on the GPU box.
 */
import {
  type ComfyStack,
  download,
  endOf,
  promptSent,
  startComfyStack,
  submitJob,
} from '@castforge/testkit/comfyui-stack';
import { type ComfyStub } from '@castforge/testkit/comfyui-stub';
import { serve, testImage } from '@castforge/testkit/image-server';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import supertest from 'supertest';
import { promptIdOf } from '../apps/worker/src/inference/comfyui/comfyui-backend';

/** The profile of the README's lock example, shrunk so the stub renders small images. */
const KEEPER = {
  name: 'Keeper',
  prompt_template: 'weathered lighthouse keeper, grey beard',
  prompt_template_mode: 'suffix',
  negative_prompt: 'blurry, lowres',
  seed_strategy: 'fixed',
  fixed_seed: 42,
  steps: 6,
  cfg_scale: 4.5,
  width: 96,
  height: 64,
  output_format: 'png',
  adapter: {
    model: 'juggernautXL_v9.safetensors',
    loras: [{ name: 'keeper_face.safetensors', weight: 0.7 }],
    identity_adapter: 'instantid',
    identity_strength: 0.65,
    extra: { sampler_name: 'dpmpp_2m', scheduler: 'karras' },
  },
};
const MERGED = 'standing on a cliff at dawn, weathered lighthouse keeper, grey beard';
/** What the official SDK sends on its own: every one of these is pinned by the profile and must lose. */
const SDK_DEFAULTS = {
  width: 1024,
  height: 1024,
  seed: 7,
  num_inference_steps: 30,
  guidance_scale: 9,
  output_format: 'webp',
};

/** Nothing of the job stays on the GPU box: no upload, no saved file, no /view read, no history entry. */
function expectNothingLeft(stub: ComfyStub, promptId: string) {
  expect(stub.uploads).toEqual([]);
  expect(stub.savedFiles).toEqual([]);
  expect(stub.views).toEqual([]);
  expect(stub.requests.filter((r) => r.path.startsWith('/upload/') || r.path === '/view')).toEqual([]);
  expect(stub.historyIds()).toEqual([]);
  expect(stub.historyDeletes).toContain(promptId);
  expect(stub.running()).toBeUndefined();
  expect(stub.pending()).toEqual([]);
}

describe('the shipped ComfyUI templates, end to end with a fixed-seed profile', () => {
  let stack: ComfyStack;
  let key: string;
  let profileId: string;
  let face: Buffer;

  beforeAll(async () => {
    stack = await startComfyStack('story-comfyui-templates');
    key = await stack.api.keyFor('keeper-studio');
    const created = await supertest(stack.api.server).post('/profiles/v1').set('X-API-Key', key).send(KEEPER);
    expect(created.status).toBe(201);
    profileId = created.body.profile_id as string;
    face = await testImage('png', 48, 56, [210, 160, 120]);
    stack.images.route('/faces/keeper.png', serve(face, 'image/png'));
  });
  afterAll(() => stack?.close());

  it('generate: the merged prompt, pinned seed, size, steps, cfg, model and LoRA reach the right node inputs, and the result is the stub’s image', async () => {
    const { job_id: jobId } = await submitJob(stack.api, key, '/generate/image/v1', {
      prompt: 'standing on a cliff at dawn',
      profile_id: profileId,
      ...SDK_DEFAULTS,
    });

    const done = await endOf(stack.api, key, '/generate/image/v1', jobId);
    expect(done).toMatchObject({
      status: 'completed',
      seed: 42,
      prompt: MERGED,
      result_mime_type: 'image/png',
      attempts: 1,
    });

    const promptId = promptIdOf(jobId);
    const prompt = promptSent(stack.stub, promptId);
    // generate.json: 6/7 the prompts, 5 the latent size, 3 the sampler, 4 the checkpoint, 10 the LoRA slot.
    expect(prompt['6']!.inputs.text).toBe(MERGED);
    expect(prompt['7']!.inputs.text).toBe('blurry, lowres');
    expect(prompt['5']!.inputs).toMatchObject({ width: 96, height: 64, batch_size: 1 });
    expect(prompt['3']!.inputs).toMatchObject({
      seed: 42,
      steps: 6,
      cfg: 4.5,
      sampler_name: 'dpmpp_2m',
      scheduler: 'karras',
    });
    expect(prompt['4']!.inputs.ckpt_name).toBe('juggernautXL_v9.safetensors');
    expect(prompt['10']!.inputs).toMatchObject({
      lora_name: 'keeper_face.safetensors',
      strength_model: 0.7,
      strength_clip: 0.7,
    });

    const bytes = await download(stack.api, done.result_url!);
    const sent = stack.stub.images.filter((i) => i.promptId === promptId);
    expect(sent).toHaveLength(1);
    expect(bytes.equals(sent[0]!.png)).toBe(true);
    expect(await sharp(bytes).metadata()).toMatchObject({ format: 'png', width: 96, height: 64 });
    expect(done.result_size_bytes).toBe(bytes.length);

    expectNothingLeft(stack.stub, promptId);
  });

  it('lock: the face goes inline as bare base64 into the base64 loader node, with the profile’s identity strength, and the result is the stub’s image', async () => {
    const fetchesBefore = stack.images.requests.length;
    const { job_id: jobId } = await submitJob(stack.api, key, '/identity/lock/image/v1', {
      input_image: stack.images.at('/faces/keeper.png'),
      prompt: 'standing on a cliff at dawn',
      profile_id: profileId,
      ...SDK_DEFAULTS,
    });

    const done = await endOf(stack.api, key, '/identity/lock/image/v1', jobId);
    expect(done).toMatchObject({
      status: 'completed',
      endpoint: '/identity/lock/image/v1',
      seed: 42,
      prompt: MERGED,
      result_mime_type: 'image/png',
    });
    expect(stack.images.requests.slice(fetchesBefore)).toEqual(['/faces/keeper.png']);

    const promptId = promptIdOf(jobId);
    const prompt = promptSent(stack.stub, promptId);
    // lock.json: 6 the face loader, 9 ApplyInstantID, 7/8 the prompts, 10 the size, 11 the sampler.
    expect(prompt['6']!.class_type).toBe('ETN_LoadImageBase64');
    expect(prompt['6']!.inputs.image).toBe(face.toString('base64'));
    expect(prompt['9']!.inputs).toMatchObject({ image: ['6', 0], weight: 0.65 });
    expect(prompt['7']!.inputs.text).toBe(MERGED);
    expect(prompt['8']!.inputs.text).toBe('blurry, lowres');
    expect(prompt['10']!.inputs).toMatchObject({ width: 96, height: 64 });
    expect(prompt['11']!.inputs).toMatchObject({ seed: 42, steps: 6, cfg: 4.5, model: ['9', 0] });
    expect(prompt['1']!.inputs.ckpt_name).toBe('juggernautXL_v9.safetensors');

    const bytes = await download(stack.api, done.result_url!);
    const sent = stack.stub.images.filter((i) => i.promptId === promptId);
    expect(sent).toHaveLength(1);
    expect(bytes.equals(sent[0]!.png)).toBe(true);
    expect(await sharp(bytes).metadata()).toMatchObject({ format: 'png', width: 96, height: 64 });

    expectNothingLeft(stack.stub, promptId);
  });

  it('the same profile and prompt again gives the same seed and the same image (nothing served stale or lost to the cache)', async () => {
    const body = { prompt: 'standing on a cliff at dawn', profile_id: profileId };
    const first = await submitJob(stack.api, key, '/generate/image/v1', body);
    const one = await endOf(stack.api, key, '/generate/image/v1', first.job_id);
    const second = await submitJob(stack.api, key, '/generate/image/v1', body);
    const two = await endOf(stack.api, key, '/generate/image/v1', second.job_id);

    expect([one.status, two.status]).toEqual(['completed', 'completed']);
    expect(two.seed).toBe(one.seed);
    const [a, b] = await Promise.all([
      download(stack.api, one.result_url!),
      download(stack.api, two.result_url!),
    ]);
    expect(b.equals(a)).toBe(true);
    expect(stack.stub.historyIds()).toEqual([]);
  });

  it('the README’s lock example (“Running with ComfyUI”, step 3), as written, runs to a completed job', async () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Running with ComfyUI'));
    const profileBody = /-d '(\{"name":"Keeper".*?\})'\n/.exec(section)?.[1];
    const lockBody = /identity\/lock\/image\/v1 .*\n -d "(\{.*?\})"\n/.exec(section)?.[1];
    if (!profileBody || !lockBody)
      throw new Error('README: the lock example’s profile or job body was not found');

    const created = await supertest(stack.api.server)
      .post('/profiles/v1')
      .set('X-API-Key', key)
      .set('Content-Type', 'application/json')
      .send(profileBody);
    expect(created.status).toBe(201);
    const job = JSON.parse(
      lockBody
        .replaceAll('\\"', '"')
        .replace('$PROFILE', created.body.profile_id as string)
        .replace(/https:\/\/example\.com\/[^"]+/, stack.images.at('/faces/keeper.png')),
    ) as Record<string, unknown>;
    const { job_id: jobId } = await submitJob(stack.api, key, '/identity/lock/image/v1', job);

    const done = await endOf(stack.api, key, '/identity/lock/image/v1', jobId);
    expect(done).toMatchObject({ status: 'completed', seed: 42 });
    const prompt = promptSent(stack.stub, promptIdOf(jobId));
    expect(prompt['11']!.inputs).toMatchObject({
      sampler_name: 'ddpm',
      scheduler: 'karras',
      steps: 30,
      cfg: 4.5,
    });
    expect(prompt['6']!.inputs.image).toBe(face.toString('base64'));
  });
});
