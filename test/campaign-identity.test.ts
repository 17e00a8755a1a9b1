/**
 * Campaigns of an identity operation (SPEC §7, issue #10): a casting team locks each identity's own reference
 * face across every scene. `operation: lock` with a roster of `{profile_id, input_image}`: every job runs the
 * lock operation on its roster entry's face (the simulated backend puts that face's pixels at the centre of
 * the scene), the profile applies as for a single job, the roster's URLs are vetted at submit and sealed while
 * stored, and they are gone from MongoDB once the campaign ends.
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker, waitFor } from '@castforge/testkit';
import { type ImageServer, serve, startImageServer } from '@castforge/testkit/image-server';
import { type CampaignJob } from '@castforge/schemas';
import sharp from 'sharp';
import request from 'supertest';

const LOOPBACK = { INPUT_ALLOW_LOOPBACK: 'true' };
const RED = [220, 30, 30] as const;
const BLUE = [30, 40, 220] as const;

describe('a campaign of an identity operation (lock with a roster)', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let images: ImageServer;
  let key: string;
  const profiles: string[] = [];

  beforeAll(async () => {
    images = await startImageServer({
      '/red.png': serve(await solid(RED), 'image/png'),
      '/blue.png': serve(await solid(BLUE), 'image/png'),
      '/notes.txt': serve('not an image', 'text/plain'),
    });
    api = await startApi('camp-identity', LOOPBACK);
    worker = await startWorker(api.services, { ...LOOPBACK, SIMULATED_STEP_MS: '1' });
    await waitFor(async () => (await api.deps.capabilities.operations()).has('lock'), {
      timeoutMs: 10_000,
      what: 'the worker to announce its operations',
    });
    key = await api.keyFor('casting-identity');
    for (const name of ['Ada', 'Ben']) {
      const res = await request(api.server)
        .post('/profiles/v1')
        .set('X-API-Key', key)
        .send({
          name,
          prompt_template: `${name} identity`,
          seed_strategy: 'fixed',
          fixed_seed: 40,
          width: 64,
          height: 64,
          steps: 2,
        });
      expect(res.status).toBe(201);
      profiles.push(res.body.profile_id as string);
    }
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await images?.close();
  });

  const post = (body: object) => request(api.server).post('/campaigns/v1').set('X-API-Key', key).send(body);
  const campaign = (id: string) => request(api.server).get(`/campaigns/v1/${id}`).set('X-API-Key', key);
  const ended = (id: string) =>
    waitFor(async () => (await campaign(id)).body.status !== 'running', {
      timeoutMs: 20_000,
      what: `campaign ${id} to end`,
    });
  const jobsOf = async (id: string): Promise<CampaignJob[]> => {
    const res = await request(api.server).get(`/campaigns/v1/${id}/jobs?limit=100`).set('X-API-Key', key);
    return (res.body as { jobs: CampaignJob[] }).jobs;
  };

  it('runs each roster entry’s face through every scene, applying its profile, and forgets the URLs', async () => {
    const created = await post({
      name: 'lock across scenes',
      operation: 'lock',
      roster: [
        { profile_id: profiles[0], input_image: images.at('/red.png') },
        { profile_id: profiles[1], input_image: images.at('/blue.png') },
      ],
      scenes: [
        { prompt: 'on a rooftop', name: 'rooftop' },
        { prompt: 'in a library', name: 'library' },
      ],
      variants: 2,
    });
    expect(created.status).toBe(202);
    expect(created.body.job_count).toBe(8);
    const id = created.body.campaign_id as string;

    // While it runs the roster is stored sealed: the URLs never appear in the clear.
    const stored = await api.services.mongo.collection('campaign_specs').findOne({ campaign_id: id });
    expect(stored!.operation).toBe('lock');
    expect(stored!.roster_images).toHaveLength(2);
    expect(JSON.stringify(stored)).not.toContain(images.url);

    await ended(id);
    expect((await campaign(id)).body).toMatchObject({ status: 'completed', counts: { completed: 8 } });
    const jobs = await jobsOf(id);
    expect(jobs).toHaveLength(8);
    for (const job of jobs) {
      const who = job.profile_index === 0 ? 'Ada' : 'Ben';
      const scene = job.scene_index === 0 ? 'on a rooftop' : 'in a library';
      expect(job).toMatchObject({
        status: 'completed',
        endpoint: '/identity/lock/image/v1',
        campaign_id: id,
        profile_id: profiles[job.profile_index],
        prompt: `${scene}, ${who} identity`,
        // The profile's fixed seed, one step per variant (SPEC §7).
        seed: 40 + job.variant,
      });
      // The face locked into the scene is the roster entry's own.
      const centre = await centrePixel(api, job.result_url!);
      expect(near(centre, job.profile_index === 0 ? RED : BLUE)).toBe(true);
    }
    // Each job fetched its own face when it started (2 profiles × 2 scenes × 2 variants).
    expect(images.requests.filter((p) => p === '/red.png')).toHaveLength(4);
    expect(images.requests.filter((p) => p === '/blue.png')).toHaveLength(4);

    // Once the campaign has ended no job needs the roster: its URLs are gone from MongoDB.
    await waitFor(
      async () =>
        !(await api.services.mongo.collection('campaign_specs').findOne({ campaign_id: id }))!.roster_images,
      { timeoutMs: 10_000, what: 'the roster images to be forgotten' },
    );
  });

  it('ends the jobs of an entry whose image is not an image INPUT_INVALID, and runs the others', async () => {
    const created = await post({
      name: 'one bad face',
      operation: 'lock',
      roster: [
        { profile_id: profiles[0], input_image: images.at('/red.png') },
        { profile_id: profiles[1], input_image: images.at('/notes.txt') },
      ],
      scenes: [{ prompt: 'at the beach' }],
    });
    expect(created.status).toBe(202);
    const id = created.body.campaign_id as string;
    await ended(id);
    expect((await campaign(id)).body).toMatchObject({
      status: 'completed_with_failures',
      counts: { completed: 1, failed: 1 },
    });
    const [good, bad] = await jobsOf(id);
    expect(good).toMatchObject({ status: 'completed' });
    expect(bad).toMatchObject({ status: 'failed', failure_reason_code: 'INPUT_INVALID' });
    expect(bad!.error).toMatch(/input_image/);
  });

  it('refuses, before any job exists, a roster URL the guard refuses and says where it is', async () => {
    const res = await post({
      name: 'private face',
      operation: 'lock',
      roster: [
        { profile_id: profiles[0], input_image: images.at('/red.png') },
        { profile_id: profiles[1], input_image: 'http://10.0.0.7/face.png' },
      ],
      scenes: [{ prompt: 'x' }],
    });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      expect.objectContaining({ loc: ['body', 'roster', 1, 'input_image'], type: 'url_refused' }),
    ]);
  });

  it('answers 422 naming the operation when no configured backend runs it', async () => {
    // A deployment whose workers have not announced `lock` (none has started).
    const bare = await startApi('camp-identity-bare', LOOPBACK);
    try {
      const bareKey = await bare.keyFor('casting-identity');
      const res = await request(bare.server)
        .post('/campaigns/v1')
        .set('X-API-Key', bareKey)
        .send({
          name: 'no lock here',
          operation: 'lock',
          roster: [{ profile_id: profiles[0], input_image: images.at('/red.png') }],
          scenes: [{ prompt: 'x' }],
        });
      expect(res.status).toBe(422);
      expect(res.body.detail).toEqual([
        expect.objectContaining({
          loc: ['body', 'operation'],
          type: 'operation_unavailable',
          msg: expect.stringMatching(/no configured backend runs lock/),
        }),
      ]);
    } finally {
      await bare.close();
    }
  });
});

async function solid(rgb: readonly number[]): Promise<Buffer> {
  return sharp({
    create: { width: 64, height: 64, channels: 3, background: { r: rgb[0]!, g: rgb[1]!, b: rgb[2]! } },
  })
    .png()
    .toBuffer();
}

async function centrePixel(api: ApiHarness, resultUrl: string): Promise<number[]> {
  const link = new URL(resultUrl);
  const res = await request(api.server).get(link.pathname + link.search);
  expect(res.status).toBe(200);
  const image = sharp(res.body as Buffer);
  const { width, height } = await image.metadata();
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  const at = (Math.floor(height / 2) * width + Math.floor(width / 2)) * info.channels;
  return [data[at]!, data[at + 1]!, data[at + 2]!];
}

const near = (a: readonly number[], b: readonly number[]) => a.every((v, i) => Math.abs(v - b[i]!) < 60);
