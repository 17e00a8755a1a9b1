/**
 * Issue 8, defect 3: once the record of an ended campaign job expires, the job must still read as ended.
 * Old code: the status read fell back to the job's campaign and answered `queued` again, and a cancel then
 * counted the job a second time and could finalize the campaign early (its `jx` references lived until the
 * campaign was forgotten, its records did not). Deleting the record key stands in for its expiry.
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import { SMALL_PROFILE, campaignTenant } from '@castforge/testkit/campaigns';
import { expectError } from '@castforge/testkit/http';
import { type ScriptedBackend, scriptedBackend } from '@castforge/testkit/scripted-backend';
import { waitFor } from '@castforge/testkit/wait';

describe('a campaign job whose record has expired', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  let gpu: ScriptedBackend | undefined;
  beforeAll(async () => {
    api = await startApi('lifecycle-expired-records');
  });
  afterEach(async () => {
    gpu?.openAll();
    await worker?.close();
    worker = undefined;
  });
  afterAll(() => api.close());

  /** One GPU slot: a job at the gate holds it, so the next job waits (queued). */
  const startGpu = async () => {
    gpu = scriptedBackend();
    worker = await startWorker(api.services, {}, { backend: gpu.backend });
    return gpu;
  };
  const expire = (tenantId: string, jobId: string) =>
    api.services.redis.del(api.deps.jobs.keys.forTenant(tenantId).job(jobId));

  it('still reads as completed, and a cancel is a 409 that changes no count and cannot end the campaign early', async () => {
    const { tenantId, c } = await campaignTenant(api, 'expired-cancel');
    const profile = await c.createProfile({ name: 'Lead', prompt_template: 'lead', ...SMALL_PROFILE });
    const created = await c.launch({
      name: 'Two jobs',
      profile_ids: [profile],
      scenes: [{ prompt: 'quick one' }, { prompt: 'gate: the second one' }],
    });
    const [first, second] = (await c.allJobs(created.campaign_id)).jobs.map((j) => j.job_id);
    const scripted = await startGpu();
    await waitFor(
      async () =>
        (await c.status(first!)).status === 'completed' && (await c.status(second!)).status === 'processing',
      { timeoutMs: 10_000, what: 'the first job done and the second at the gate' },
    );
    const before = await c.campaign(created.campaign_id);
    expect(before.counts).toMatchObject({ completed: 1, processing: 1, queued: 0 });

    await expire(tenantId, first!);
    expect(await c.status(first!)).toMatchObject({ job_id: first, status: 'completed' });
    expectError(await c.cancelJob(first!), 'CONFLICT');
    const after = await c.campaign(created.campaign_id);
    expect(after).toMatchObject({ status: 'running', counts: before.counts });
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(1);
    // The page of the campaign's jobs agrees.
    expect((await c.allJobs(created.campaign_id)).jobs.map((j) => j.status)).toEqual([
      'completed',
      'processing',
    ]);

    scripted.open(1);
    const done = await c.until(created.campaign_id, (s) => s.status !== 'running', 'the campaign to end');
    expect(done).toMatchObject({
      status: 'completed',
      counts: { queued: 0, pending: 0, processing: 0, completed: 2, failed: 0, cancelled: 0 },
    });
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);
  });

  it('is not counted again when its whole campaign is cancelled', async () => {
    const { tenantId, c } = await campaignTenant(api, 'expired-campaign-cancel');
    const profile = await c.createProfile({ name: 'Lead', prompt_template: 'lead', ...SMALL_PROFILE });
    const created = await c.launch({
      name: 'Three jobs',
      profile_ids: [profile],
      scenes: [{ prompt: 'quick one' }, { prompt: 'gate: held' }, { prompt: 'gate: waiting' }],
    });
    const [first, second, third] = (await c.allJobs(created.campaign_id)).jobs.map((j) => j.job_id);
    await startGpu();
    await waitFor(
      async () =>
        (await c.status(first!)).status === 'completed' && (await c.status(second!)).status === 'processing',
      { timeoutMs: 10_000, what: 'the first job done and the second at the gate' },
    );
    await expire(tenantId, first!);

    const cancelled = await c.cancel(created.campaign_id);
    expect(cancelled.status).toBe(202);
    const done = await c.until(created.campaign_id, (s) => s.status !== 'running', 'the campaign to end');
    expect(done).toMatchObject({
      status: 'cancelled',
      counts: { queued: 0, pending: 0, processing: 0, completed: 1, failed: 0, cancelled: 2 },
    });
    expect(await c.status(first!)).toMatchObject({ status: 'completed' });
    expect(await c.status(third!)).toMatchObject({ status: 'cancelled' });
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);
  });
});
