/**
 * Issue 8, defect 2: a campaign job that fails before START must still end, with a record, and count.
 * Old code: FINISH returned without effect for a campaign job with no record unless the target was
 * `cancelled`, so a plan() failure (the campaign spec not readable from MongoDB, its profile version gone) lost
 * the job from its campaign's counts, and the campaign stayed `running` forever without `campaign.completed`.
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import { SMALL_PROFILE, campaignTenant } from '@castforge/testkit/campaigns';
import { eventOf, webhooksSettled } from '@castforge/testkit/lifecycle';
import { scriptedBackend } from '@castforge/testkit/scripted-backend';
import { type WebhookReceiver, startReceiver } from '@castforge/testkit/webhook-receiver';

const LOOPBACK = { CALLBACK_ALLOW_LOOPBACK: 'true' };

describe('a campaign whose jobs fail before they start', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    api = await startApi('lifecycle-campaign-failures', LOOPBACK);
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
  });
  afterAll(async () => {
    await receiver.close();
    await api.close();
  });

  const startGpu = async () => {
    const gpu = scriptedBackend();
    worker = await startWorker(
      api.services,
      { ...LOOPBACK, INFERENCE_URLS: 'simulated://0,simulated://1' },
      { backend: gpu.backend },
    );
    return { gpu, worker };
  };
  const hooksOf = (campaignId: string) =>
    receiver.received.map(eventOf).filter((e) => e.campaignId === campaignId);

  it('when its spec is gone from MongoDB: every job ends failed with a record, and campaign.completed comes once', async () => {
    const { tenantId, c } = await campaignTenant(api, 'early-fail-spec');
    const profiles = [
      await c.createProfile({ name: 'A', prompt_template: 'a', ...SMALL_PROFILE }),
      await c.createProfile({ name: 'B', prompt_template: 'b', ...SMALL_PROFILE }),
    ];
    const created = await c.launch({
      name: 'Lost spec',
      profile_ids: profiles,
      scenes: [{ prompt: 'one' }, { prompt: 'two' }],
      callback_url: receiver.url('/hooks/spec'),
    });
    const jobIds = (await c.allJobs(created.campaign_id)).jobs.map((j) => j.job_id);
    expect(jobIds).toHaveLength(4);
    // What a worker reading it during a MongoDB failover (not yet cached) would meet: no spec to plan from.
    await api.services.mongo.collection('campaign_specs').deleteOne({ campaign_id: created.campaign_id });

    const { gpu, worker: pool } = await startGpu();
    const done = await c.until(created.campaign_id, (s) => s.status !== 'running', 'the campaign to end');
    expect(done).toMatchObject({
      status: 'completed_with_failures',
      job_count: 4,
      counts: { queued: 0, pending: 0, processing: 0, completed: 0, failed: 4, cancelled: 0 },
    });
    expect(gpu.reached).toEqual([]);
    for (const jobId of jobIds) {
      expect(await c.status(jobId)).toMatchObject({
        job_id: jobId,
        status: 'failed',
        failure_reason_code: 'INPUT_INVALID',
        campaign_id: created.campaign_id,
      });
      // A record, not a status derived from the campaign: the job really ended.
      expect(await api.deps.jobs.exists(tenantId, jobId)).toBe(true);
    }
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);

    await webhooksSettled(pool);
    const hooks = hooksOf(created.campaign_id);
    const completed = hooks.filter((h) => h.event === 'campaign.completed');
    expect(completed).toHaveLength(1);
    expect(
      hooks
        .filter((h) => h.event === 'job.failed')
        .map((h) => h.jobId)
        .sort(),
    ).toEqual([...jobIds].sort());
    expect(new Set(hooks.map((h) => h.webhookId)).size).toBe(hooks.length);
  }, 45_000);

  it('when a profile version cannot be read: its jobs end failed, the others complete, and the counts add up', async () => {
    const { tenantId, c } = await campaignTenant(api, 'early-fail-profile');
    const kept = await c.createProfile({ name: 'Kept', prompt_template: 'kept', ...SMALL_PROFILE });
    const lost = await c.createProfile({ name: 'Lost', prompt_template: 'lost', ...SMALL_PROFILE });
    const created = await c.launch({
      name: 'Lost version',
      profile_ids: [kept, lost],
      scenes: [{ prompt: 'one' }, { prompt: 'two' }],
      callback_url: receiver.url('/hooks/profile'),
    });
    // Neither a copy of the pinned version nor the profile itself is left to read it from.
    for (const collection of ['profile_versions', 'profiles']) {
      await api.services.mongo.collection(collection).deleteMany({ tenant_id: tenantId, profile_id: lost });
    }

    const { gpu, worker: pool } = await startGpu();
    const done = await c.until(created.campaign_id, (s) => s.status !== 'running', 'the campaign to end');
    expect(done).toMatchObject({
      status: 'completed_with_failures',
      counts: { queued: 0, pending: 0, processing: 0, completed: 2, failed: 2, cancelled: 0 },
    });
    expect(gpu.reached).toHaveLength(2);
    const jobs = (await c.allJobs(created.campaign_id)).jobs;
    expect(jobs.map((j) => [j.profile_index, j.status, j.failure_reason_code])).toEqual([
      [0, 'completed', null],
      [0, 'completed', null],
      [1, 'failed', 'INPUT_INVALID'],
      [1, 'failed', 'INPUT_INVALID'],
    ]);
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);

    await webhooksSettled(pool);
    expect(hooksOf(created.campaign_id).filter((h) => h.event === 'campaign.completed')).toHaveLength(1);
    const doc = await api.services.mongo
      .collection('campaigns')
      .findOne({ campaign_id: created.campaign_id });
    expect(doc).toMatchObject({
      status: 'completed_with_failures',
      counts: { queued: 0, pending: 0, processing: 0, completed: 2, failed: 2, cancelled: 0 },
    });
  }, 45_000);
});
