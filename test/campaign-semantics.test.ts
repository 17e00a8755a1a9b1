/**
 * What a campaign's jobs are (SPEC §7, issue #5): each variant's seed, the profile version each job pins,
 * every job an ordinary job of SPEC §4 (status while queued and once finished), how a campaign with failed
 * jobs ends, the tenant's campaign list, 404 for foreign and unknown ids, and progress / eta_seconds (the
 * webhooks are in campaign-webhooks.test.ts). Each test starts the worker only when it wants its jobs to run,
 * so what it sees while the worker is away is certainly the queued state.
 */
import { type ApiHarness, type WorkerHarness, expectError, startApi, startWorker } from '@castforge/testkit';
import { type CampaignClient, SMALL_PROFILE, campaignTenant } from '@castforge/testkit/campaigns';
import { scriptedBackend } from '@castforge/testkit/scripted-backend';
import { type Campaign, type CampaignJob, JobStatus } from '@castforge/schemas';
import request from 'supertest';

type CampaignPage = { campaigns: Campaign[]; next_cursor: string | null };
const idsOf = (body: unknown) => (body as CampaignPage).campaigns.map((x) => x.campaign_id);
const MAX_SEED = 4294967295;

describe('the jobs of a campaign', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;

  beforeAll(async () => {
    api = await startApi('story-campaign-semantics');
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
  });
  afterAll(() => api.close());

  const startTheWorker = async () => {
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '1' });
  };
  const tenant = (tenantId: string) => campaignTenant(api, tenantId);
  const ended = (c: CampaignClient, campaignId: string) =>
    c.until(campaignId, (x) => x.status !== 'running', `campaign ${campaignId} to end`);
  /** The campaign's jobs keyed "<profile_index>/<scene_index>/<variant>". */
  const byPlace = (jobs: CampaignJob[]) =>
    new Map(jobs.map((j) => [`${j.profile_index}/${j.scene_index}/${j.variant}`, j]));

  it('gives variant i of a fixed profile fixed_seed + i, of a seeded scene seed + i, and otherwise random seeds', async () => {
    const { c } = await tenant('seeds');
    const fixed = await c.createProfile({
      name: 'Fixed',
      prompt_template: 'fixed lead',
      seed_strategy: 'fixed',
      fixed_seed: 1000,
      ...SMALL_PROFILE,
    });
    const random = await c.createProfile({
      name: 'Random',
      prompt_template: 'random lead',
      ...SMALL_PROFILE,
    });
    const user = await c.createProfile({
      name: 'User',
      prompt_template: 'user lead',
      seed_strategy: 'user',
      ...SMALL_PROFILE,
    });
    const created = await c.launch({
      name: 'Seeds',
      profile_ids: [fixed, random, user],
      scenes: [
        { name: 'seeded', prompt: 'seeded scene', seed: 5000 },
        { name: 'free', prompt: 'free scene' },
      ],
      variants: 3,
    });
    expect(created.job_count).toBe(18);
    await startTheWorker();
    expect((await ended(c, created.campaign_id)).status).toBe('completed');

    const { jobs } = await c.allJobs(created.campaign_id);
    const at = byPlace(jobs);
    expect(jobs).toHaveLength(18);
    const seeds = (profile: number, scene: number) =>
      [0, 1, 2].map((v) => at.get(`${profile}/${scene}/${v}`)!.seed);
    expect(seeds(0, 0)).toEqual([1000, 1001, 1002]);
    expect(seeds(0, 1)).toEqual([1000, 1001, 1002]);
    expect(seeds(1, 0)).toEqual([5000, 5001, 5002]);
    expect(seeds(2, 0)).toEqual([5000, 5001, 5002]);
    for (const profile of [1, 2]) {
      const free = seeds(profile, 1);
      expect(new Set(free).size).toBe(3);
      for (const seed of free) expect(seed).toEqual(expect.any(Number));
      for (const seed of free) expect(seed! >= 0 && seed! <= MAX_SEED).toBe(true);
    }
    // Each job's prompt is "<scene prompt>, <profile template>".
    expect(at.get('0/1/2')!.prompt).toBe('free scene, fixed lead');
    expect(at.get('2/0/0')!.prompt).toBe('seeded scene, user lead');
    expect(jobs.every((j) => j.status === 'completed')).toBe(true);
    // A campaign that has ended has nothing left to cancel.
    expectError(await c.cancel(created.campaign_id), 'CONFLICT');
  });

  it('runs each job with the profile version current at submission, even after a PATCH and a DELETE', async () => {
    const { key, c } = await tenant('pinning');
    const profileId = await c.createProfile({
      name: 'Silver',
      prompt_template: 'silver hair',
      seed_strategy: 'fixed',
      fixed_seed: 10,
      ...SMALL_PROFILE,
    });
    const scene = { name: 'dock', prompt: 'on a dock' };
    const before = await c.launch({ name: 'Before', profile_ids: [profileId], scenes: [scene], variants: 2 });
    const patched = await request(api.server)
      .patch(`/profiles/v1/${profileId}`)
      .set('X-API-Key', key)
      .send({ prompt_template: 'golden hair', fixed_seed: 20 });
    expect(patched.status).toBe(200);
    expect(patched.body.version).toBe(2);
    const after = await c.launch({ name: 'After', profile_ids: [profileId], scenes: [scene], variants: 2 });
    const queued = (await c.allJobs(before.campaign_id)).jobs;
    expect(queued.map((j) => [j.status, j.profile_version])).toEqual([
      ['queued', 1],
      ['queued', 1],
    ]);
    const deleted = await request(api.server).delete(`/profiles/v1/${profileId}`).set('X-API-Key', key);
    expect(deleted.status).toBe(204);

    await startTheWorker();
    expect((await ended(c, before.campaign_id)).status).toBe('completed');
    expect((await ended(c, after.campaign_id)).status).toBe('completed');
    const summary = async (campaignId: string) =>
      (await c.allJobs(campaignId)).jobs.map((j) => [j.profile_version, j.seed, j.prompt, j.status]);
    expect(await summary(before.campaign_id)).toEqual([
      [1, 10, 'on a dock, silver hair', 'completed'],
      [1, 11, 'on a dock, silver hair', 'completed'],
    ]);
    expect(await summary(after.campaign_id)).toEqual([
      [2, 20, 'on a dock, golden hair', 'completed'],
      [2, 21, 'on a dock, golden hair', 'completed'],
    ]);
  });

  it('answers GET /generate/image/v1/status for a queued and a finished campaign job like any job', async () => {
    const { c } = await tenant('ordinary');
    const profiles = [
      await c.createProfile({
        name: 'One',
        prompt_template: 'one',
        seed_strategy: 'fixed',
        fixed_seed: 1,
        ...SMALL_PROFILE,
      }),
      await c.createProfile({
        name: 'Two',
        prompt_template: 'two',
        seed_strategy: 'fixed',
        fixed_seed: 2,
        ...SMALL_PROFILE,
      }),
    ];
    const first = await c.launch({
      name: 'First',
      profile_ids: profiles,
      scenes: [{ prompt: 'in the rain', metadata: { shot: 'rain' } }],
      variants: 3,
      metadata: { order: 'PO-1' },
    });
    const second = await c.launch({
      name: 'Second',
      profile_ids: [profiles[0]],
      scenes: [{ prompt: 'in snow' }],
    });
    const jobs = (await c.allJobs(first.campaign_id)).jobs;
    const [laterJob] = (await c.allJobs(second.campaign_id)).jobs;

    for (const [i, job] of jobs.entries()) {
      const status = JobStatus.parse(await c.status(job.job_id));
      expect(status).toMatchObject({
        job_id: job.job_id,
        status: 'queued',
        campaign_id: first.campaign_id,
        profile_id: profiles[Math.floor(i / 3)],
        profile_version: 1,
        queue_position: i,
        result_url: null,
        started_at: null,
        finished_at: null,
        metadata: { shot: 'rain' },
      });
    }
    // The second campaign's first job waits behind all six of the first.
    expect(await c.status(laterJob!.job_id)).toMatchObject({
      status: 'queued',
      campaign_id: second.campaign_id,
      queue_position: 6,
    });

    await startTheWorker();
    await ended(c, second.campaign_id);
    await ended(c, first.campaign_id);
    const done = JobStatus.parse(await c.status(jobs[4]!.job_id));
    expect(done).toMatchObject({
      status: 'completed',
      progress: 100,
      campaign_id: first.campaign_id,
      profile_id: profiles[1],
      profile_version: 1,
      seed: 3,
      prompt: 'in the rain, two',
      queue_position: null,
      result_mime_type: 'image/png',
      attempts: 1,
      metadata: { shot: 'rain' },
    });
    const link = new URL(done.result_url!);
    const image = await request(api.server).get(`${link.pathname}${link.search}`).buffer(true);
    expect(image.status).toBe(200);
    expect((image.body as Buffer).length).toBe(done.result_size_bytes);
  });

  it('ends completed_with_failures when a job fails, counting it as failed with its reason', async () => {
    const { c } = await tenant('failures');
    const profileId = await c.createProfile({ name: 'F', prompt_template: 'f', ...SMALL_PROFILE });
    const created = await c.launch({
      name: 'Some fail',
      profile_ids: [profileId],
      scenes: [{ prompt: 'fine' }, { prompt: 'reject this one' }],
      variants: 2,
    });
    worker = await startWorker(
      api.services,
      { SIMULATED_STEP_MS: '1' },
      { backend: scriptedBackend().backend },
    );
    const final = await ended(c, created.campaign_id);
    expect(final).toMatchObject({
      status: 'completed_with_failures',
      counts: { queued: 0, pending: 0, processing: 0, completed: 2, failed: 2, cancelled: 0 },
      progress: 100,
      eta_seconds: null,
    });
    const failed = (await c.allJobs(created.campaign_id, { status: 'failed' })).jobs;
    expect(failed.map((j) => j.campaign_index)).toEqual([2, 3]);
    expect(failed[0]).toMatchObject({
      failure_reason_code: 'INPUT_INVALID',
      retryable: false,
      result_url: null,
    });
  });

  it("lists the tenant's campaigns newest first, page by page, and never another tenant's", async () => {
    const { c } = await tenant('lister');
    const other = await tenant('lister-other');
    const profileId = await c.createProfile({ name: 'L', prompt_template: 'l', ...SMALL_PROFILE });
    const otherProfile = await other.c.createProfile({ name: 'O', prompt_template: 'o', ...SMALL_PROFILE });
    const launched: string[] = [];
    for (const name of ['Spring', 'Summer', 'Autumn']) {
      launched.push(
        (await c.launch({ name, profile_ids: [profileId], scenes: [{ prompt: name }] })).campaign_id,
      );
    }
    const foreign = (
      await other.c.launch({ name: 'Theirs', profile_ids: [otherProfile], scenes: [{ prompt: 'x' }] })
    ).campaign_id;

    const list = (query: string, key: string) =>
      request(api.server).get(`/campaigns/v1?${query}`).set('X-API-Key', key);
    const first = await list('limit=2', await api.keyFor('lister'));
    expect(first.status).toBe(200);
    expect(idsOf(first.body)).toEqual([launched[2], launched[1]]);
    expect((first.body as CampaignPage).campaigns.map((x) => x.name)).toEqual(['Autumn', 'Summer']);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await list(
      `limit=2&cursor=${encodeURIComponent(first.body.next_cursor as string)}`,
      await api.keyFor('lister'),
    );
    expect(idsOf(second.body)).toEqual([launched[0]]);
    expect(second.body.next_cursor).toBeNull();
    const all = await list('', await api.keyFor('lister'));
    expect(idsOf(all.body)).toEqual([...launched].reverse());
    expect(JSON.stringify(all.body)).not.toContain(foreign);
    const theirs = await list('', await api.keyFor('lister-other'));
    expect(idsOf(theirs.body)).toEqual([foreign]);
  });

  it('answers 404 for a campaign of another tenant, an unknown campaign and a malformed id, on every route', async () => {
    const owner = await tenant('owner');
    const stranger = await tenant('stranger');
    const profileId = await owner.c.createProfile({
      name: 'Mine',
      prompt_template: 'mine',
      ...SMALL_PROFILE,
    });
    const mine = await owner.c.launch({ name: 'Mine', profile_ids: [profileId], scenes: [{ prompt: 'x' }] });
    const [job] = (await owner.c.allJobs(mine.campaign_id)).jobs;

    for (const id of [mine.campaign_id, 'camp_0123456789abcdef', 'camp_nope']) {
      for (const res of [
        await request(api.server).get(`/campaigns/v1/${id}`).set('X-API-Key', stranger.key),
        await stranger.c.jobsPage(id, 'limit=10'),
        await stranger.c.cancel(id),
      ]) {
        expectError(res, 'NOT_FOUND');
      }
    }
    expectError(
      await request(api.server)
        .get(`/generate/image/v1/status/${job!.job_id}`)
        .set('X-API-Key', stranger.key),
      'NOT_FOUND',
    );
    expectError(await stranger.c.cancelJob(job!.job_id), 'NOT_FOUND');
    // Still there, untouched, for its owner.
    expect(await owner.c.campaign(mine.campaign_id)).toMatchObject({
      status: 'running',
      counts: expect.objectContaining({ queued: 1, cancelled: 0 }),
    });
    expect(await owner.c.status(job!.job_id)).toMatchObject({ status: 'queued' });
  });

  it('reports progress and a numeric eta_seconds while running, then 100 and null once ended', async () => {
    const { c } = await tenant('progress');
    const profileId = await c.createProfile({ name: 'P', prompt_template: 'p', ...SMALL_PROFILE });
    const created = await c.launch({
      name: 'Progress',
      profile_ids: [profileId],
      scenes: [{ prompt: 'gate a' }, { prompt: 'gate b' }],
      variants: 8,
    });
    const queued = await c.campaign(created.campaign_id);
    expect(queued).toMatchObject({ status: 'running', progress: 0, job_count: 16, finished_at: null });
    expect(queued.eta_seconds).toEqual(expect.any(Number));
    expect(queued.eta_seconds).toBeGreaterThanOrEqual(0);

    // The GPU lets five jobs through, then holds the sixth at its gate: the campaign is certainly running.
    const gpu = scriptedBackend();
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '1' }, { backend: gpu.backend });
    gpu.open(5);
    const mid = await c.until(
      created.campaign_id,
      (x) => x.counts.completed === 5 && x.counts.processing === 1,
      'five jobs done and the sixth on the GPU',
    );
    expect(mid).toMatchObject({ status: 'running', progress: 31.3, finished_at: null });
    expect(mid.counts.queued).toBe(10);
    expect(mid.eta_seconds).toEqual(expect.any(Number));
    expect(mid.eta_seconds).toBeGreaterThanOrEqual(0);

    gpu.openAll();
    const final = await ended(c, created.campaign_id);
    expect(final).toMatchObject({ status: 'completed', progress: 100, eta_seconds: null });
    expect(Date.parse(final.finished_at!)).toBeGreaterThanOrEqual(Date.parse(final.created_at));
  });
});
