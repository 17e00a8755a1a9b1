/**
 * Issue 8, defect 9: a graceful shutdown hands long-running jobs back without counting a stall. Old code: the
 * worker's shutdown deadline (~35 s) was shorter than JOB_TIMEOUT_SECONDS (300), so a deploy exited with jobs
 * running, and each exit counted as a stall (feeding defect 1).
 *
 * Worker A's pool closes with a drain of 200 ms (SHUTDOWN_GRACE_MS, what `pool.close()` uses) while its jobs
 * sit on the GPU far longer: they must go back to their lanes as `pending`, with no stall counted in BullMQ
 * (the job hash's `stc`), and worker B must run them to the end as their second attempt.
 */
import {
  type ApiHarness,
  type WorkerHarness,
  spawnWorker,
  startApi,
  startWorker,
  waitFor,
} from '@castforge/testkit';
import { SMALL_PROFILE, campaignTenant, lanesOf } from '@castforge/testkit/campaigns';
import { scriptedBackend } from '@castforge/testkit/scripted-backend';
import request from 'supertest';

describe('a worker shutting down while its jobs run long', () => {
  let api: ApiHarness;
  let workerB: WorkerHarness | undefined;
  beforeAll(async () => {
    api = await startApi('lifecycle-shutdown-handback');
  });
  afterAll(async () => {
    await workerB?.close();
    await api.close();
  });

  it('hands them back as pending, counts no stall, and another worker completes them as attempt 2', async () => {
    const { tenantId, key, c } = await campaignTenant(api, 'handback');
    const b = api.deps.jobs.keys.forTenant(tenantId);
    const profile = await c.createProfile({ name: 'Lead', prompt_template: 'lead', ...SMALL_PROFILE });
    const single = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ prompt: 'gate: a long single job', width: 64, height: 64, num_inference_steps: 2 });
    expect(single.status).toBe(202);
    const created = await c.launch({
      name: 'Long',
      profile_ids: [profile],
      scenes: [{ prompt: 'gate: long' }],
    });
    const [campaignJob] = (await c.allJobs(created.campaign_id)).jobs.map((j) => j.job_id);
    const jobs = [
      { jobId: single.body.job_id as string, lane: lanesOf(tenantId).single },
      { jobId: campaignJob!, lane: lanesOf(tenantId).campaign },
    ];

    // Worker A: its GPU keeps both jobs at the gate, which it never opens.
    const gpuA = scriptedBackend();
    const workerA = await startWorker(
      api.services,
      { INFERENCE_URLS: 'simulated://0,simulated://1', SHUTDOWN_GRACE_MS: '200' },
      { backend: gpuA.backend },
    );
    await waitFor(
      async () =>
        (await Promise.all(jobs.map((j) => c.status(j.jobId)))).every((s) => s.status === 'processing'),
      { timeoutMs: 10_000, what: 'both jobs on worker A' },
    );
    await workerA.close();

    expect(gpuA.interrupted.sort()).toEqual(jobs.map((j) => j.jobId).sort());
    for (const { jobId, lane } of jobs) {
      expect(await c.status(jobId)).toMatchObject({ status: 'pending', attempts: 1 });
      const bull = await api.services.redis.hgetall(b.bullJob(lane, jobId));
      // Back in its lane's wait list, and BullMQ counted neither a stall nor a failed attempt.
      expect({ jobId, stalled: Number(bull.stc ?? 0), attemptsMade: Number(bull.atm ?? 0) }).toEqual({
        jobId,
        stalled: 0,
        attemptsMade: 0,
      });
      expect(await api.services.redis.lrange(b.bull(lane).wait, 0, -1)).toContain(jobId);
      expect(await api.services.redis.llen(b.bull(lane).active)).toBe(0);
    }
    expect((await c.campaign(created.campaign_id)).counts).toMatchObject({ pending: 1, processing: 0 });
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(2);

    const gpuB = scriptedBackend();
    gpuB.openAll();
    workerB = await startWorker(
      api.services,
      { INFERENCE_URLS: 'simulated://0,simulated://1' },
      { backend: gpuB.backend },
    );
    await waitFor(
      async () =>
        (await Promise.all(jobs.map((j) => c.status(j.jobId)))).every((s) => s.status === 'completed'),
      { timeoutMs: 15_000, what: 'both jobs to complete on worker B' },
    );
    for (const { jobId } of jobs) {
      expect(await c.status(jobId)).toMatchObject({ status: 'completed', attempts: 2, error: null });
    }
    expect(gpuB.reached.sort()).toEqual(jobs.map((j) => j.jobId).sort());
    expect(await c.campaign(created.campaign_id)).toMatchObject({ status: 'completed' });
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);
  });

  it('as a real worker process on SIGTERM: exits cleanly within its deadline and the job is handed back, not stalled', async () => {
    const tenantId = 'handback-process';
    await workerB?.close();
    workerB = undefined;
    const key = await api.keyFor(tenantId);
    const lane = lanesOf(tenantId).single;
    const b = api.deps.jobs.keys.forTenant(tenantId);
    // Twenty steps of a second each: the job is far from done when the process is told to stop.
    const doomed = spawnWorker(api.services, { SIMULATED_STEP_MS: '1000', SHUTDOWN_GRACE_MS: '500' });
    const submitted = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ prompt: 'a long night', width: 64, height: 64, num_inference_steps: 20 });
    const jobId = submitted.body.job_id as string;
    const status = async () =>
      (await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key)).body as {
        status: string;
        attempts: number;
      };
    await waitFor(async () => (await status()).status === 'processing', {
      timeoutMs: 20_000,
      what: 'the job to run on the worker process',
    });

    expect(await doomed.stop('SIGTERM')).toBe(0);
    expect(await status()).toMatchObject({ status: 'pending', attempts: 1 });
    const bull = await api.services.redis.hgetall(b.bullJob(lane, jobId));
    expect({ stalled: Number(bull.stc ?? 0), attemptsMade: Number(bull.atm ?? 0) }).toEqual({
      stalled: 0,
      attemptsMade: 0,
    });
    expect(await api.services.redis.lrange(b.bull(lane).wait, 0, -1)).toEqual([jobId]);

    workerB = await startWorker(api.services, {}, { backend: scriptedBackend().backend });
    await waitFor(async () => (await status()).status === 'completed', {
      timeoutMs: 15_000,
      what: 'the job to complete on another worker',
    });
    expect(await status()).toMatchObject({ status: 'completed', attempts: 2 });
  }, 45_000);
});
