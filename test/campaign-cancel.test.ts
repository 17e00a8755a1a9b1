/**
 * Cancelling a campaign half-way (SPEC §7, §4; issue #5): every job not yet ended becomes `cancelled` — the
 * waiting ones at once, the running ones interrupted at the GPU, the ones waiting out a retry back-off too —
 * and the counts add up exactly, in the campaign, in each job's status and in the pages of
 * GET /campaigns/v1/{id}/jobs. One job of a running campaign can also be cancelled on its own (the webhooks of
 * a cancelled campaign are in campaign-webhooks.test.ts). The GPU is our
 * own seam (test/support/scripted-backend.ts): prompts starting with "hold" run until aborted and "flaky" ones
 * fail with a retryable error, so a test knows exactly which jobs are running when it cancels.
 */
import { type ApiHarness, type WorkerHarness, expectError, startApi, startWorker } from '@castforge/testkit';
import {
  type CampaignClient,
  bullJobsIn,
  campaignClient,
  footprint,
  lanesOf,
  SMALL_PROFILE,
} from '@castforge/testkit/campaigns';
import { type ScriptedBackend, scriptedBackend } from '@castforge/testkit/scripted-backend';
import { waitFor } from '@castforge/testkit/wait';
import { type CampaignJob } from '@castforge/schemas';

const TWO_GPUS = { INFERENCE_URLS: 'simulated://0,simulated://1', SIMULATED_STEP_MS: '1' };

describe('cancelling a campaign', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  let currentGpu: ScriptedBackend | undefined;
  /** Campaigns a test leaves running (when it fails half-way) are cancelled after it, and held jobs let go. */
  const leftRunning: { c: CampaignClient; id: string }[] = [];

  beforeAll(async () => {
    // A failed attempt waits a minute before its retry, so a `pending` job stays pending while a test looks.
    api = await startApi('story-campaign-cancel', { JOB_BACKOFF_MS: '60000' });
  });
  afterEach(async () => {
    for (const { c, id } of leftRunning.splice(0)) await c.cancel(id);
    currentGpu?.releaseHeld();
    await worker?.close();
    worker = undefined;
    currentGpu = undefined;
  });
  afterAll(() => api.close());

  /** A worker with two GPU slots on the scripted backend. */
  const startGpus = async () => {
    const scripted = scriptedBackend();
    currentGpu = scripted;
    worker = await startWorker(api.services, TWO_GPUS, { backend: scripted.backend });
    return scripted;
  };

  it('cancels the waiting jobs at once and interrupts the running ones, and every count adds up', async () => {
    const tenantId = 'half-way';
    const c = campaignClient(api, await api.keyFor(tenantId));
    const profileId = await c.createProfile({
      name: 'Lead',
      prompt_template: 'the lead',
      seed_strategy: 'fixed',
      fixed_seed: 70,
      ...SMALL_PROFILE,
    });
    // Jobs 0–7 render at once; jobs 8–15 hold the GPU until they are aborted.
    const created = await c.launch({
      name: 'Half way',
      profile_ids: [profileId],
      scenes: [
        { name: 'quick', prompt: 'quick take' },
        { name: 'long', prompt: 'hold the pose' },
      ],
      variants: 8,
    });
    leftRunning.push({ c, id: created.campaign_id });
    const gpu = await startGpus();
    const running = await c.until(
      created.campaign_id,
      (x) => x.counts.completed === 8 && x.counts.processing === 2,
      'eight jobs done and two on the GPUs',
      20_000,
    );
    expect(running).toMatchObject({ status: 'running', counts: expect.objectContaining({ queued: 6 }) });
    const jobs = (await c.allJobs(created.campaign_id)).jobs;
    const onGpu = jobs.filter((j) => j.status === 'processing').map((j) => j.job_id);
    const neverStarted = jobs.filter((j) => j.status === 'queued').map((j) => j.job_id);
    expect([onGpu.length, neverStarted.length]).toEqual([2, 6]);
    expect(jobs.slice(0, 8).every((j) => j.status === 'completed')).toBe(true);

    const cancelled = await c.cancel(created.campaign_id);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({
      campaign_id: created.campaign_id,
      status: 'cancelled',
      job_count: 16,
      counts: { queued: 0, pending: 0, processing: 0, completed: 8, failed: 0, cancelled: 8 },
      progress: 100,
      eta_seconds: null,
    });
    expect(cancelled.body.finished_at).toEqual(expect.any(String));

    // The two running jobs are interrupted at their GPU.
    await waitFor(() => onGpu.every((id) => gpu.interrupted.includes(id)), {
      what: 'both running jobs to be interrupted at the GPU',
    });
    const statuses = await Promise.all(jobs.map((j) => c.status(j.job_id)));
    for (const s of statuses.slice(0, 8)) {
      expect(s).toMatchObject({ status: 'completed', failure_reason_code: null, queue_position: null });
    }
    const statusOf = new Map(statuses.map((x) => [x.job_id, x]));
    for (const s of statuses.slice(8)) {
      expect(s).toMatchObject({
        status: 'cancelled',
        campaign_id: created.campaign_id,
        failure_reason_code: 'CANCELLED',
        retryable: false,
        result_url: null,
        queue_position: null,
      });
      expect(s.finished_at).toEqual(expect.any(String));
    }
    expect(onGpu.every((id) => statusOf.get(id)!.started_at !== null)).toBe(true);
    expect(neverStarted.every((id) => statusOf.get(id)!.started_at === null)).toBe(true);

    // A second cancel, and a cancel of any single job, finds nothing left to cancel.
    expectError(await c.cancel(created.campaign_id), 'CONFLICT');
    for (const jobId of [jobs[0]!.job_id, onGpu[0]!, neverStarted[0]!])
      expectError(await c.cancelJob(jobId), 'CONFLICT');

    // The pages of each status, followed with next_cursor three at a time, agree with the counts.
    const byStatus = async (status: string) => {
      const { jobs: found, pages } = await c.allJobs(created.campaign_id, { status, limit: 3 });
      return {
        indexes: found.map((j: CampaignJob) => j.campaign_index),
        pages,
        statuses: found.map((j) => j.status),
      };
    };
    const cancelledPages = await byStatus('cancelled');
    expect(cancelledPages.indexes).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    expect(cancelledPages.statuses.every((s) => s === 'cancelled')).toBe(true);
    expect(cancelledPages.pages).toBeGreaterThanOrEqual(3);
    const completedPages = await byStatus('completed');
    expect(completedPages.indexes).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(completedPages.pages).toBeGreaterThanOrEqual(3);
    for (const status of ['queued', 'processing', 'pending', 'failed'])
      expect([status, (await byStatus(status)).indexes]).toEqual([status, []]);

    // The worker drops the jobs it still held without a GPU: only the ten started ones ever reached one.
    await waitFor(async () => (await bullJobsIn(api, lanesOf(tenantId).campaign)) === 0, {
      what: 'the worker to drop the cancelled jobs',
    });
    expect([...gpu.reached].sort()).toEqual([...jobs.slice(0, 8).map((j) => j.job_id), ...onGpu].sort());
    const after = await c.campaign(created.campaign_id);
    expect(after).toEqual({ ...cancelled.body, eta_seconds: null });
    expect((await footprint(api, tenantId)).inFlight).toBe(0);
    leftRunning.length = 0;
  });

  it('cancels one job of a running campaign on its own, moving the counts by one each time', async () => {
    const tenantId = 'one-job';
    const c = campaignClient(api, await api.keyFor(tenantId));
    const profileId = await c.createProfile({ name: 'Solo', prompt_template: 'solo', ...SMALL_PROFILE });
    const created = await c.launch({
      name: 'All held',
      profile_ids: [profileId],
      scenes: [{ prompt: 'hold still' }],
      variants: 5,
    });
    leftRunning.push({ c, id: created.campaign_id });
    const gpu = await startGpus();
    await c.until(created.campaign_id, (x) => x.counts.processing === 2, 'two jobs on the GPUs');
    const jobs = (await c.allJobs(created.campaign_id)).jobs;
    const running = jobs.filter((j) => j.status === 'processing').map((j) => j.job_id);
    const queued = jobs.filter((j) => j.status === 'queued').map((j) => j.job_id);
    expect([running.length, queued.length]).toEqual([2, 3]);
    const counts = async () => (await c.campaign(created.campaign_id)).counts;

    // A waiting job: cancelled at once, one count moves from queued to cancelled.
    const waiting = await c.cancelJob(queued[2]!);
    expect(waiting.status).toBe(202);
    expect(waiting.body).toMatchObject({
      status: 'cancelled',
      campaign_id: created.campaign_id,
      failure_reason_code: 'CANCELLED',
      started_at: null,
    });
    expect(await counts()).toEqual({
      queued: 2,
      pending: 0,
      processing: 2,
      completed: 0,
      failed: 0,
      cancelled: 1,
    });

    // A running job: interrupted at its GPU, which then takes the next waiting job.
    const runningJob = await c.cancelJob(running[0]!);
    expect(runningJob.status).toBe(202);
    expect(runningJob.body).toMatchObject({ status: 'cancelled', failure_reason_code: 'CANCELLED' });
    expect(runningJob.body.started_at).toEqual(expect.any(String));
    await waitFor(() => gpu.interrupted.includes(running[0]!), { what: 'the job to be interrupted' });
    const afterTwo = await c.until(
      created.campaign_id,
      (x) => x.counts.processing === 2 && x.counts.queued === 1,
      'the next waiting job to start',
    );
    expect(afterTwo).toMatchObject({
      status: 'running',
      counts: { queued: 1, pending: 0, processing: 2, completed: 0, failed: 0, cancelled: 2 },
      progress: 40,
    });
    expectError(await c.cancelJob(running[0]!), 'CONFLICT');
    expectError(await c.cancelJob(queued[2]!), 'CONFLICT');
    expect((await c.status(queued[0]!)).status).toBe('processing');

    // Then the campaign: the three not yet ended are cancelled; none is counted twice.
    const all = await c.cancel(created.campaign_id);
    expect(all.status).toBe(202);
    expect(all.body).toMatchObject({
      status: 'cancelled',
      counts: { queued: 0, pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 5 },
    });
    const { jobs: listed } = await c.allJobs(created.campaign_id, { status: 'cancelled', limit: 2 });
    expect(listed.map((j) => j.campaign_index)).toEqual([0, 1, 2, 3, 4]);
    for (const j of jobs) expect((await c.status(j.job_id)).status).toBe('cancelled');
    await waitFor(() => [running[1]!, queued[0]!].every((id) => gpu.interrupted.includes(id)), {
      what: 'the two jobs still running to be interrupted',
    });
    expect(gpu.reached).not.toContain(queued[1]);
    expect((await footprint(api, tenantId)).inFlight).toBe(0);
    leftRunning.length = 0;
  });

  it('cancels a campaign whose last jobs are all running, none waiting: 202, both interrupted, counts add up', async () => {
    const tenantId = 'all-running';
    const c = campaignClient(api, await api.keyFor(tenantId));
    const profileId = await c.createProfile({ name: 'Pair', prompt_template: 'pair', ...SMALL_PROFILE });
    const created = await c.launch({
      name: 'Both on the GPUs',
      profile_ids: [profileId],
      scenes: [{ prompt: 'quick one' }, { prompt: 'hold on' }],
      variants: 2,
    });
    leftRunning.push({ c, id: created.campaign_id });
    const gpu = await startGpus();
    const running = await c.until(
      created.campaign_id,
      (x) => x.counts.completed === 2 && x.counts.processing === 2,
      'two jobs done and the last two on the GPUs',
    );
    expect(running.counts.queued).toBe(0);

    const cancelled = await c.cancel(created.campaign_id);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({
      status: 'cancelled',
      counts: { queued: 0, pending: 0, processing: 0, completed: 2, failed: 0, cancelled: 2 },
    });
    const { jobs } = await c.allJobs(created.campaign_id);
    await waitFor(() => jobs.slice(2).every((j) => gpu.interrupted.includes(j.job_id)), {
      what: 'both running jobs to be interrupted',
    });
    expect((await footprint(api, tenantId)).inFlight).toBe(0);
    leftRunning.length = 0;
  });

  it('cancels the jobs waiting out a retry back-off (pending) along with the running and waiting ones', async () => {
    const tenantId = 'with-pending';
    const c = campaignClient(api, await api.keyFor(tenantId));
    const profileId = await c.createProfile({
      name: 'Flaky',
      prompt_template: 'flaky lead',
      ...SMALL_PROFILE,
    });
    // Jobs 0–2 fail once and wait a minute for their retry; jobs 3–4 then hold the GPUs; job 5 waits.
    const created = await c.launch({
      name: 'Flaky',
      profile_ids: [profileId],
      scenes: [{ prompt: 'flaky take' }, { prompt: 'hold take' }],
      variants: 3,
    });
    leftRunning.push({ c, id: created.campaign_id });
    const gpu = await startGpus();
    const before = await c.until(
      created.campaign_id,
      (x) => x.counts.pending === 3 && x.counts.processing === 2,
      'three jobs pending and two on the GPUs',
    );
    expect(before.counts.queued).toBe(1);
    const pending = (await c.allJobs(created.campaign_id, { status: 'pending' })).jobs;
    expect(pending.map((j) => j.campaign_index)).toEqual([0, 1, 2]);
    expect(pending[0]).toMatchObject({
      status: 'pending',
      failure_reason_code: 'MODEL_ERROR',
      retryable: true,
    });

    const cancelled = await c.cancel(created.campaign_id);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({
      status: 'cancelled',
      counts: { queued: 0, pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 6 },
    });
    for (const job of pending) {
      expect(await c.status(job.job_id)).toMatchObject({
        status: 'cancelled',
        failure_reason_code: 'CANCELLED',
      });
    }
    const listed = await c.allJobs(created.campaign_id, { status: 'cancelled', limit: 4 });
    expect(listed.jobs.map((j) => j.campaign_index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect((await c.allJobs(created.campaign_id, { status: 'pending' })).jobs).toEqual([]);
    await waitFor(() => gpu.interrupted.length === 2, { what: 'the two running jobs to be interrupted' });
    expect((await footprint(api, tenantId)).inFlight).toBe(0);
    leftRunning.length = 0;
  });

  it('cancels a campaign no job of which has started: none ever reaches a GPU', async () => {
    const tenantId = 'before-start';
    const c = campaignClient(api, await api.keyFor(tenantId));
    const profileId = await c.createProfile({ name: 'Early', prompt_template: 'early', ...SMALL_PROFILE });
    const created = await c.launch({
      name: 'Never run',
      profile_ids: [profileId],
      scenes: [{ prompt: 'a' }, { prompt: 'b' }, { prompt: 'c' }],
      variants: 5,
    });
    const [first] = (await c.allJobs(created.campaign_id, { limit: 1 })).jobs;
    expect((await c.status(first!.job_id)).status).toBe('queued');

    // Two cancels at once: one does it, the other finds nothing left to cancel.
    const both = await Promise.all([c.cancel(created.campaign_id), c.cancel(created.campaign_id)]);
    expect(both.map((r) => r.status).sort()).toEqual([202, 409]);
    const cancelled = both.find((r) => r.status === 202)!;
    expect(cancelled.body).toMatchObject({
      status: 'cancelled',
      counts: { queued: 0, pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 15 },
    });
    expect(await c.status(first!.job_id)).toMatchObject({
      status: 'cancelled',
      failure_reason_code: 'CANCELLED',
      queue_position: null,
    });
    expect((await footprint(api, tenantId)).inFlight).toBe(0);

    const gpu = await startGpus();
    await waitFor(async () => (await bullJobsIn(api, lanesOf(tenantId).campaign)) === 0, {
      what: 'the worker to drop the cancelled jobs',
    });
    expect(gpu.reached).toEqual([]);
    expect((await c.campaign(created.campaign_id)).counts.cancelled).toBe(15);
  });
});
