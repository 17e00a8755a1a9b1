/**
 * The typed client against the real API (createApp on port 0, the real Redis and embedded MongoDB) and an
 * in-process worker with the simulated backend: what a program using @castforge/client sees.
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import {
  ApiError,
  type CastforgeClient,
  type Campaign,
  type GenerateImageRequest,
  type JobStatus,
  allCampaignJobs,
  createCastforgeClient,
  waitForCampaign,
  waitForJob,
} from './index';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];

describe('@castforge/client against the API', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let client: CastforgeClient;

  beforeAll(async () => {
    api = await startApi('client-package');
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '1' });
    client = createCastforgeClient({ baseUrl: `${api.baseUrl}/`, apiKey: await api.keyFor('client-a') });
  });
  afterAll(async () => {
    await worker.close();
    await api.close();
  });

  it('creates a profile, generates with just {prompt, profile_id}, waits for the job and downloads the image', async () => {
    const profile = await client.profiles.create({
      name: 'Typed Client',
      prompt_template: 'a typed identity',
      seed_strategy: 'fixed',
      fixed_seed: 7,
      width: 64,
      height: 64,
      steps: 2,
      output_format: 'png',
    });
    // The request a person writes first: no seed, no priority (fields the server defaults).
    const request: GenerateImageRequest = { prompt: 'on a rooftop', profile_id: profile.profile_id };
    const queued = await client.jobs.generate(request);
    expect(queued).toMatchObject({ status: 'queued', endpoint: '/generate/image/v1' });

    const seen: JobStatus['status'][] = [];
    const done = await waitForJob(client, queued, {
      intervalMs: 20,
      timeoutMs: 20_000,
      onStatus: (s) => seen.push(s.status),
    });
    expect(done).toMatchObject({
      job_id: queued.job_id,
      status: 'completed',
      seed: 7,
      profile_version: 1,
      prompt: 'on a rooftop, a typed identity',
    });
    expect(seen.at(-1)).toBe('completed');
    // The harness listens on a port chosen after PUBLIC_BASE_URL was set, so the link is re-homed onto it.
    const link = new URL(done.result_url!);
    const bytes = await client.download(`${api.baseUrl}${link.pathname}${link.search}`);
    expect([...bytes.subarray(0, 4)]).toEqual(PNG_SIGNATURE);
    expect(bytes.length).toBe(done.result_size_bytes);
  });

  it('reports a 422 as an ApiError whose detail names the field, and a stale If-Match as 412', async () => {
    const error = await client.profiles.create({ name: 'Bad', width: 65 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(422);
    expect((error as ApiError).body?.detail).toContainEqual(
      expect.objectContaining({ loc: ['body', 'width'], msg: 'must be a multiple of 8' }),
    );

    const profile = await client.profiles.create({ name: 'Versioned' });
    const v2 = await client.profiles.update(profile.profile_id, { tags: ['x'] }, { ifMatch: 1 });
    expect(v2.version).toBe(2);
    await expect(
      client.profiles.update(profile.profile_id, { tags: ['y'] }, { ifMatch: 1 }),
    ).rejects.toMatchObject({
      status: 412,
      code: 'PRECONDITION_FAILED',
    });
    await expect(client.profiles.version(profile.profile_id, 1)).resolves.toMatchObject({
      version: 1,
      tags: [],
    });
    await client.profiles.delete(profile.profile_id, { ifMatch: 2 });
    await expect(client.profiles.get(profile.profile_id)).rejects.toMatchObject({ status: 404 });
  });

  it('runs a campaign to the end with progress reports, and lists its jobs page after page', async () => {
    const ids = await Promise.all(
      ['A', 'B', 'C'].map(
        async (name) => (await client.profiles.create({ name, width: 64, height: 64, steps: 1 })).profile_id,
      ),
    );
    const created = await client.campaigns.create({
      name: 'typed',
      profile_ids: ids,
      scenes: [{ prompt: 'one' }, { prompt: 'two' }],
      variants: 2,
    });
    expect(created.job_count).toBe(12);
    const reports: Campaign[] = [];
    const final = await waitForCampaign(client, created.campaign_id, {
      intervalMs: 20,
      maxIntervalMs: 50,
      timeoutMs: 30_000,
      onProgress: (c) => reports.push(c),
    });
    expect(final).toMatchObject({ status: 'completed', progress: 100 });
    expect(reports.at(-1)).toEqual(final);

    const jobs = await allCampaignJobs(client, created.campaign_id, { pageSize: 5 });
    expect(jobs).toHaveLength(12);
    expect(new Set(jobs.map((j) => j.job_id)).size).toBe(12);
    expect(jobs.every((j) => j.status === 'completed' && j.campaign_id === created.campaign_id)).toBe(true);
    expect((await client.campaigns.list()).campaigns.map((c) => c.campaign_id)).toContain(
      created.campaign_id,
    );
    const deliveries = await client.webhooks.deliveries({ job_id: jobs[0]!.job_id });
    expect(deliveries.deliveries).toEqual([]);
  });

  it('cancels a campaign: every job not yet ended becomes cancelled', async () => {
    const slow = await client.profiles.create({ name: 'Slow', width: 64, height: 64, steps: 150 });
    const created = await client.campaigns.create({
      name: 'to cancel',
      profile_ids: [slow.profile_id],
      scenes: [{ prompt: 'x' }],
      variants: 4,
    });
    const cancelled = await client.campaigns.cancel(created.campaign_id);
    expect(cancelled.campaign_id).toBe(created.campaign_id);
    const final = await waitForCampaign(client, created.campaign_id, { intervalMs: 20, timeoutMs: 20_000 });
    expect(final.status).toBe('cancelled');
    expect(final.counts.cancelled).toBeGreaterThan(0);
  });

  it("never shows one tenant another tenant's profiles", async () => {
    const other = createCastforgeClient({ baseUrl: api.baseUrl, apiKey: await api.keyFor('client-b') });
    const mine = await client.profiles.all();
    expect(mine.length).toBeGreaterThan(0);
    expect(await other.profiles.all()).toEqual([]);
    await expect(other.profiles.get(mine[0]!.profile_id)).rejects.toMatchObject({ status: 404 });
  });
});
