/**
 * Issue 8, defect 1: a job that stalls more often than WORKER_MAX_STALLED_COUNT allows must end `failed`.
 * Old code: BullMQ failed it with an UnrecoverableError ("job stalled more than allowable limit") and the pool's
 * onFailed returned early on every UnrecoverableError, assuming the processor had recorded it, so the record
 * stayed `processing` forever, the tenant's in-flight count leaked and its campaign never completed.
 *
 * The worker that dies is a real process (apps/worker/dist: run `npm run build` first), killed with SIGKILL
 * mid-job; WORKER_MAX_STALLED_COUNT=0 makes its first stall one too many.
 */
import {
  type ApiHarness,
  type WorkerHarness,
  type WorkerProcess,
  hasEnded,
  spawnWorker,
  startApi,
  startWorker,
  waitFor,
} from '@castforge/testkit';
import { SMALL_PROFILE, campaignTenant } from '@castforge/testkit/campaigns';
import { scriptedBackend } from '@castforge/testkit/scripted-backend';
import { type JobStatus } from '@castforge/schemas';
import request from 'supertest';

const STALL_ONCE_IS_TOO_MANY = {
  WORKER_MAX_STALLED_COUNT: '0',
  WORKER_LOCK_DURATION_MS: '2000',
  WORKER_STALLED_INTERVAL_MS: '1000',
};

describe('a job that stalls more often than WORKER_MAX_STALLED_COUNT allows', () => {
  let api: ApiHarness;
  let doomed: WorkerProcess | undefined;
  let survivor: WorkerHarness | undefined;
  beforeAll(async () => {
    api = await startApi('lifecycle-stalls');
  });
  afterEach(async () => {
    await doomed?.stop('SIGKILL');
    await survivor?.close();
    survivor = undefined;
  });
  afterAll(() => api.close());

  it('ends failed (single and campaign job alike), frees its in-flight slot and lets its campaign complete', async () => {
    const tenantId = 'stalls';
    const { key, c } = await campaignTenant(api, tenantId);
    const statusOf = async (jobId: string) =>
      (await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key))
        .body as JobStatus;

    // Two GPU slots at a second a step: both jobs are certainly mid-run when the process dies.
    doomed = spawnWorker(api.services, {
      ...STALL_ONCE_IS_TOO_MANY,
      INFERENCE_URLS: 'simulated://0,simulated://1',
      SIMULATED_STEP_MS: '1000',
    });
    const single = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ prompt: 'a long night', width: 64, height: 64, num_inference_steps: 20 });
    expect(single.status).toBe(202);
    const singleId = single.body.job_id as string;
    const profile = await c.createProfile({ name: 'Lead', prompt_template: 'lead', ...SMALL_PROFILE });
    const campaign = await c.launch({
      name: 'Stalled',
      profile_ids: [profile],
      scenes: [{ prompt: 'a long day', num_inference_steps: 20 }],
    });
    const [campaignJobId] = (await c.allJobs(campaign.campaign_id)).jobs.map((j) => j.job_id);
    const jobIds = [singleId, campaignJobId!];
    await waitFor(
      async () => (await Promise.all(jobIds.map(statusOf))).every((s) => s.status === 'processing'),
      { timeoutMs: 20_000, what: 'both jobs to run on the worker process' },
    );

    await doomed.stop('SIGKILL');
    const gpu = scriptedBackend();
    survivor = await startWorker(api.services, STALL_ONCE_IS_TOO_MANY, { backend: gpu.backend });

    const ended = await waitFor(
      async () => {
        const statuses = await Promise.all(jobIds.map(statusOf));
        return statuses.every(hasEnded) && statuses;
      },
      { timeoutMs: 30_000, what: 'both stalled jobs to end' },
    );
    for (const status of ended) {
      expect(status).toMatchObject({
        status: 'failed',
        failure_reason_code: 'INTERNAL_ERROR',
        attempts: 1,
      });
    }
    // Not run again: it stalled once, which is already more than allowed.
    expect(gpu.reached).toEqual([]);
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);
    expect(await api.deps.jobs.stateCounts()).toEqual({ queued: 0, processing: 0, pending: 0 });

    const done = await c.until(
      campaign.campaign_id,
      (s) => s.status !== 'running',
      'the campaign to complete',
    );
    expect(done).toMatchObject({
      status: 'completed_with_failures',
      counts: { queued: 0, pending: 0, processing: 0, completed: 0, failed: 1, cancelled: 0 },
    });
    // Its outcome reached MongoDB too (the campaign's finalization ran).
    await waitFor(
      async () =>
        (await api.services.mongo
          .collection('campaigns')
          .findOne({ campaign_id: campaign.campaign_id, status: 'completed_with_failures' })) !== null,
      { timeoutMs: 10_000, what: "the campaign's outcome in MongoDB" },
    );
  }, 60_000);

  it('with WORKER_MAX_STALLED_COUNT=1, runs again after one stall and ends failed after the second', async () => {
    const tenantId = 'stalls-twice';
    const key = await api.keyFor(tenantId);
    const statusOf = async (jobId: string) =>
      (await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key))
        .body as JobStatus;
    const oneStallAllowed = {
      ...STALL_ONCE_IS_TOO_MANY,
      WORKER_MAX_STALLED_COUNT: '1',
      SIMULATED_STEP_MS: '1000',
    };
    const submitted = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ prompt: 'a longer night', width: 64, height: 64, num_inference_steps: 20 });
    const jobId = submitted.body.job_id as string;

    for (const attempt of [1, 2]) {
      doomed = spawnWorker(api.services, oneStallAllowed);
      await waitFor(
        async () => {
          const s = await statusOf(jobId);
          return s.status === 'processing' && s.attempts === attempt;
        },
        { timeoutMs: 20_000, what: `attempt ${attempt} to run on a worker process` },
      );
      await doomed.stop('SIGKILL');
    }
    const gpu = scriptedBackend();
    survivor = await startWorker(api.services, oneStallAllowed, { backend: gpu.backend });
    const ended = await waitFor(
      async () => {
        const s = await statusOf(jobId);
        return hasEnded(s) && s;
      },
      { timeoutMs: 30_000, what: 'the job stalled twice to end' },
    );
    expect(ended).toMatchObject({ status: 'failed', failure_reason_code: 'INTERNAL_ERROR', attempts: 2 });
    expect(gpu.reached).toEqual([]);
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);
  }, 60_000);
});
