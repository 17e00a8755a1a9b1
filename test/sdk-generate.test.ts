/**
 * Issue 10, "What will be checked", first line: a new user points the official ImagePipeline client at
 * castforge, creates the seed's profile with `identity.create_profile(...)` and runs
 * `generate.image(prompt=..., profile_id=...)` to completion. Every request is the client's own bytes
 * (test/support/sdk-client.ts replays them) and every assertion is on what its `Job` reads (SPEC §4): png
 * because the profile pins it over the client's default webp, seed 42 from the fixed-seed profile, the
 * merged prompt and its SHA-256, the time fields, cost_usd under GPU_COST_PER_SECOND_USD, the result
 * downloadable. `override_profile` (ext) is the escape that lets the request's webp win.
 */
import { createHash } from 'node:crypto';
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import {
  SDK_JOB_FIELDS,
  SEED_TEMPLATE,
  type SdkClient,
  type SdkStatus,
  pyJson,
  sdkBody,
  sdkClient,
  seedProfileBody,
} from '@castforge/testkit/sdk-client';
import sharp from 'sharp';

const GPU_COST_PER_SECOND_USD = 0.00042;
const PROMPT = 'portrait in a sunlit cafe, reading a newspaper';
const MERGED = `${PROMPT}, ${SEED_TEMPLATE}`;
const SEED_PROFILE_WIRE =
  '{"name": "Caucasian Woman", "seed_strategy": "fixed", "prompt_template_mode": "suffix", ' +
  '"description": "Reusable casting identity", "prompt_template": "Caucasian woman, late 20s, fair porcelain ' +
  'skin, blonde hair, blue eyes, light natural makeup, warm expression", "cfg_scale": 0.0, "steps": 9, ' +
  '"width": 1024, "height": 1024, "output_format": "png", "fixed_seed": 42}';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the official client: create the seed profile, then generate.image with it', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;

  beforeAll(async () => {
    api = await startApi('story-sdk-generate', {
      GPU_COST_PER_SECOND_USD: String(GPU_COST_PER_SECOND_USD),
    });
  });
  afterAll(async () => {
    await worker?.close();
    await api.close();
  });

  const clientFor = async (tenant: string) => sdkClient(api.baseUrl, await api.keyFor(tenant));
  const startTheWorker = async () => {
    worker ??= await startWorker(api.services, { SIMULATED_STEP_MS: '2' });
  };
  /** The result link, fetched from this API (PUBLIC_BASE_URL names the deployment, not the test's port). */
  const download = async (ip: SdkClient, resultUrl: string) => {
    const link = new URL(resultUrl);
    return ip.send('GET', `${link.pathname}${link.search}`);
  };
  const createSeedProfile = async (ip: SdkClient) => {
    // Byte for byte what `create_profile(name=..., ..., cfg_scale=0.0, seed_strategy="fixed", fixed_seed=42)`
    // sends (printed by Python's json.dumps from the client's body).
    expect(pyJson(seedProfileBody())).toBe(SEED_PROFILE_WIRE);
    const profile = await ip.post('/profiles/v1', seedProfileBody());
    expect(profile).toMatchObject({
      profile_id: expect.stringMatching(/^prof_[0-9a-f]{16}$/),
      name: 'Caucasian Woman',
      version: 1,
      adapter_snapshot: {
        prompt_template: SEED_TEMPLATE,
        prompt_template_mode: 'suffix',
        steps: 9,
        cfg_scale: 0,
        seed_strategy: 'fixed',
        fixed_seed: 42,
        width: 1024,
        height: 1024,
        output_format: 'png',
      },
    });
    return profile.profile_id as string;
  };

  it('runs generate.image(prompt, profile_id) to a png of seed 42 with every field the Job reads filled', async () => {
    const ip = await clientFor('sdk-generate-seed');
    const profileId = await createSeedProfile(ip);

    // The worker is held back so the job is certainly queued when the client first polls it.
    const body = sdkBody.generateImage(PROMPT, { profile_id: profileId });
    expect(body).toEqual({
      prompt: PROMPT,
      width: 1024,
      height: 1024,
      seed: -1,
      output_format: 'webp',
      enhance_prompt: false,
      profile_id: profileId,
    });
    const queued = await ip.submit('generate/image/v1', body);
    expect(queued).toMatchObject({ job_id: expect.stringMatching(/^job_[0-9a-f]{16}$/), status: 'queued' });
    expect(queued.data).toMatchObject({
      endpoint: '/generate/image/v1',
      estimated_time_seconds: expect.any(Number),
    });
    const waiting = (await ip.get(`/generate/image/v1/status/${queued.job_id}`)) as SdkStatus;
    expect(waiting).toMatchObject({
      status: 'queued',
      queue_position: 0,
      result_url: null,
      processing_time_seconds: null,
      prompt_hash: null,
      cost_usd: null,
    });
    // The client types it Optional[int].
    expect(Number.isInteger(waiting.estimated_time_seconds)).toBe(true);
    expect(waiting.estimated_time_seconds as number).toBeGreaterThanOrEqual(1);

    await startTheWorker();
    const seen: string[] = [];
    const { job, status } = await ip.poll('generate/image/v1', queued.job_id, (s) => seen.push(s.status));
    expect(seen.at(-1)).toBe('completed');

    expect(job).toMatchObject({
      job_id: queued.job_id,
      status: 'completed',
      endpoint: 'generate/image/v1',
      error: null,
      progress: 100,
      result_url: expect.stringMatching(/\/results\/v1\/.+\.png\?/),
      result_mime_type: 'image/png',
      queue_position: null,
      failure_reason_code: null,
      retryable: null,
      // Nothing went wrong, so nothing to warn about (the profile's pins are what was asked for).
      warnings: null,
      prompt_hash: sha256(MERGED),
      // castforge bills nothing.
      balance_remaining_usd: null,
      estimated_time_seconds: null,
    });
    expect(Object.keys(job).sort()).toEqual([...SDK_JOB_FIELDS, 'endpoint'].sort());
    for (const field of [
      'queue_wait_seconds',
      'inference_time_seconds',
      'total_elapsed_seconds',
      'processing_time_seconds',
    ] as const) {
      expect(job[field]).toEqual(expect.any(Number));
      expect(job[field] as number).toBeGreaterThanOrEqual(0);
    }
    expect(job.processing_time_seconds as number).toBeGreaterThanOrEqual(
      job.inference_time_seconds as number,
    );
    expect(job.total_elapsed_seconds as number).toBeGreaterThanOrEqual(job.processing_time_seconds as number);
    // cost_usd is inference seconds × GPU_COST_PER_SECOND_USD (SPEC §4).
    // (reported to the micro-dollar, so within half of one).
    expect(job.cost_usd).toEqual(expect.any(Number));
    expect(job.cost_usd as number).toBeGreaterThan(0);
    expect(
      Math.abs((job.cost_usd as number) - (job.inference_time_seconds as number) * GPU_COST_PER_SECOND_USD),
    ).toBeLessThanOrEqual(5e-7 + 1e-12);
    // castforge's own fields of the same status: the seed used, the merged prompt, the pinned profile version.
    expect(status).toMatchObject({
      seed: 42,
      prompt: MERGED,
      profile_id: profileId,
      profile_version: 1,
    });

    const image = await download(ip, job.result_url as string);
    expect(image.status).toBe(200);
    expect(image.headers['content-type']).toBe('image/png');
    expect(image.bytes.length).toBe(status.result_size_bytes);
    expect(await sharp(image.bytes).metadata()).toMatchObject({ format: 'png', width: 1024, height: 1024 });
  });

  it('lets the request’s webp win over the profile’s png when override_profile names output_format, and only that', async () => {
    const ip = await clientFor('sdk-generate-override');
    const profileId = await createSeedProfile(ip);
    await startTheWorker();

    // The client's body plus castforge's escape; its width is still pinned by the profile (1024).
    const body = {
      ...sdkBody.generateImage(PROMPT, { profile_id: profileId, width: 512 }),
      override_profile: ['output_format'],
    };
    const { job, status } = await ip.submitAndPoll('generate/image/v1', body);
    expect(job).toMatchObject({ status: 'completed', result_mime_type: 'image/webp', warnings: null });
    expect(status).toMatchObject({ seed: 42, prompt: MERGED });
    const image = await download(ip, job.result_url as string);
    expect(image.headers['content-type']).toBe('image/webp');
    expect(await sharp(image.bytes).metadata()).toMatchObject({ format: 'webp', width: 1024, height: 1024 });

    // Without the escape, the same body gets the profile's png.
    const pinned = await ip.submitAndPoll(
      'generate/image/v1',
      sdkBody.generateImage(PROMPT, { profile_id: profileId }),
    );
    expect(pinned.job.result_mime_type).toBe('image/png');
  });

  it('answers the client’s 422 with a message it can show when the profile is not this tenant’s', async () => {
    const owner = await clientFor('sdk-generate-owner');
    const other = await clientFor('sdk-generate-other');
    const profileId = await createSeedProfile(owner);
    await expect(
      other.submit('generate/image/v1', sdkBody.generateImage(PROMPT, { profile_id: profileId })),
    ).rejects.toMatchObject({
      name: 'APIError',
      statusCode: 422,
      errorCode: 'INPUT_INVALID',
      message: expect.stringContaining('profile_id'),
    });
  });
});
