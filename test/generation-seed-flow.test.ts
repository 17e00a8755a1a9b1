/**
 * The first thing a new user does (SPEC §2, §3, §4, §5): save the "Caucasian Woman" casting profile with the
 * seed's request, put her in a scene, poll until the image is ready and download it from the signed link.
 */
import {
  type ApiHarness,
  SEED_PROFILE_JSON,
  type WorkerHarness,
  rawRequest,
  startApi,
  startWorker,
} from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import { type JobStatus } from '@castforge/schemas';
import sharp from 'sharp';
import request from 'supertest';

const IDENTITY =
  'Caucasian woman, late 20s, fair porcelain skin, blonde hair, blue eyes, light natural makeup, warm expression';
const SCENE = 'A woman standing on a rooftop at sunset, golden hour';
/** Where the deployment is reached from outside; result links are absolute links under it (SPEC §5). */
const PUBLIC_BASE_URL = 'https://images.castforge.test';

describe('the seed flow: a casting profile, a scene, a 1024×1024 PNG', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let key: string;
  let profileId: string;

  beforeAll(async () => {
    api = await startApi('story-seed-flow', { PUBLIC_BASE_URL });
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '2' });
    key = await api.keyFor('seed-flow');
    const created = await rawRequest(api.baseUrl, {
      method: 'POST',
      path: '/profiles/v1',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': key },
      body: SEED_PROFILE_JSON,
    });
    expect(created.status).toBe(201);
    profileId = (created.body as { profile_id: string }).profile_id;
  });
  afterAll(async () => {
    await worker.close();
    await api.close();
  });

  const submitScene = async () => {
    const res = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ prompt: SCENE, profile_id: profileId });
    expect(res.status).toBe(202);
    return res.body as { job_id: string; status: string; estimated_time_seconds: number; queued_at: string };
  };
  const statusOf = async (jobId: string) => {
    const res = await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key);
    expect(res.status).toBe(200);
    return res.body as JobStatus;
  };
  const completed = (jobId: string) =>
    waitFor(
      async () => {
        const status = await statusOf(jobId);
        if (status.status === 'failed' || status.status === 'cancelled')
          throw new Error(`job ended ${status.status}`);
        return status.status === 'completed' && status;
      },
      { timeoutMs: 20_000, what: `job ${jobId} to complete` },
    );
  /** Fetches a result link exactly as a browser would: the link alone, no API key. */
  const download = async (resultUrl: string) => {
    const link = new URL(resultUrl);
    // PUBLIC_BASE_URL is the public name of the deployment; the test's API answers on a port of its own.
    const res = await fetch(`${api.baseUrl}${link.pathname}${link.search}`);
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      bytes: Buffer.from(await res.arrayBuffer()),
    };
  };

  it('saves the seed request verbatim as version 1 with every default in its snapshot', async () => {
    const res = await request(api.server).get(`/profiles/v1/${profileId}`).set('X-API-Key', key);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      profile_id: expect.stringMatching(/^prof_[0-9a-f]{16}$/),
      name: 'Caucasian Woman',
      description: 'Reusable casting identity',
      version: 1,
      adapter_snapshot: {
        prompt_template: IDENTITY,
        prompt_template_mode: 'suffix',
        steps: 9,
        cfg_scale: 0,
        seed_strategy: 'fixed',
        fixed_seed: 42,
        height: 1024,
        width: 1024,
        output_format: 'png',
      },
    });
  });

  it('turns a scene into a 1024×1024 PNG with seed 42 and the scene joined to the identity', async () => {
    const queued = await submitScene();
    expect(queued).toMatchObject({
      job_id: expect.stringMatching(/^job_[0-9a-f]{16}$/),
      status: 'queued',
      endpoint: '/generate/image/v1',
      estimated_time_seconds: expect.any(Number),
    });

    const status = await completed(queued.job_id);
    expect(status).toMatchObject({
      job_id: queued.job_id,
      status: 'completed',
      progress: 100,
      profile_id: profileId,
      profile_version: 1,
      seed: 42,
      prompt: `${SCENE}, ${IDENTITY}`,
      result_mime_type: 'image/png',
      attempts: 1,
      queue_position: null,
      error: null,
      failure_reason_code: null,
    });
    expect(status.queued_at).toBe(queued.queued_at);
    const [queuedAt, startedAt, finishedAt] = [status.queued_at, status.started_at, status.finished_at].map(
      (iso) => Date.parse(iso ?? ''),
    );
    expect(startedAt).toBeGreaterThanOrEqual(queuedAt!);
    expect(finishedAt).toBeGreaterThanOrEqual(startedAt!);
    expect(status.queue_wait_seconds).toBeGreaterThanOrEqual(0);
    expect(status.inference_time_seconds).toBeGreaterThan(0);
    expect(status.total_elapsed_seconds).toBeGreaterThanOrEqual(status.inference_time_seconds!);
    expect(Date.parse(status.result_expires_at ?? '')).toBeGreaterThan(Date.now());

    expect(status.result_url).toMatch(
      new RegExp(`^${PUBLIC_BASE_URL}/results/v1/${queued.job_id}\\.png\\?expires=\\d+&sig=[\\w-]+$`),
    );
    const image = await download(status.result_url!);
    expect(image.status).toBe(200);
    expect(image.type).toBe('image/png');
    expect(image.bytes.length).toBe(status.result_size_bytes);
    const meta = await sharp(image.bytes).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({
      format: 'png',
      width: 1024,
      height: 1024,
    });
  });

  it('gives byte-identical image bytes when the same request is sent again', async () => {
    const first = await completed((await submitScene()).job_id);
    const second = await completed((await submitScene()).job_id);
    expect(second.job_id).not.toBe(first.job_id);
    expect({ seed: second.seed, prompt: second.prompt }).toEqual({ seed: first.seed, prompt: first.prompt });
    const [a, b] = await Promise.all([download(first.result_url!), download(second.result_url!)]);
    expect(a.bytes.length).toBeGreaterThan(0);
    expect(b.bytes.equals(a.bytes)).toBe(true);
  });

  it('refuses a result link whose signature was altered, as if the image did not exist', async () => {
    const status = await completed((await submitScene()).job_id);
    const link = new URL(status.result_url!);
    const sig = link.searchParams.get('sig')!;
    link.searchParams.set('sig', `${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`);
    const tampered = await download(link.toString());
    expect(tampered.status).toBe(404);
    expect((await download(status.result_url!)).status).toBe(200);
  });
});
