/**
 * Issue 8, defect 5: enqueuing a campaign is fenced, resumable and never makes a second campaign.
 * Old code: `create()` enqueued without the lock `resumeEnqueues` took, so an API starting during a rolling
 * deploy could enqueue the same indexes twice (two GPU runs per index); a transient addBulk error left the
 * campaign half-enqueued until some API restarted; and the client's retry (same Idempotency-Key) then created
 * a second campaign, because the failed first request had answered 500.
 *
 * The campaign service and enqueuer here are the API's own (apps/api campaigns.service, core
 * campaign-enqueue), on the real Redis, BullMQ and MongoDB; the only thing changed is the campaign state's
 * `enqueueChunk` seam, wrapped to pause or fail before a chunk — where a slow or dying process, or a Redis
 * error, would stop the enqueue.
 */
import { type CampaignState, createRegistry } from '@castforge/core';
import { type ApiHarness, type WorkerHarness, startApi, startWorker, waitFor } from '@castforge/testkit';
import { campaignServiceKit } from '@castforge/testkit/campaign-service';
import {
  SMALL_PROFILE,
  bullJobsIn,
  campaignHash,
  campaignTenant,
  lanesOf,
} from '@castforge/testkit/campaigns';
import { scriptedBackend } from '@castforge/testkit/scripted-backend';
import request from 'supertest';
import { createApp } from '../apps/api/src/app';

/** 1 profile × 70 scenes × 16 variants: two chunks of the enqueuer (1000 jobs each). */
const SCENES = Array.from({ length: 70 }, (_, i) => ({ prompt: `scene ${i}` }));
const JOB_COUNT = 70 * 16;

describe('enqueuing a campaign', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  let realState: CampaignState;
  let enqueuerWith: Awaited<ReturnType<typeof campaignServiceKit>>['enqueuerWith'];
  let serviceWith: Awaited<ReturnType<typeof campaignServiceKit>>['serviceWith'];
  beforeAll(async () => {
    api = await startApi('lifecycle-campaign-enqueue');
    ({ realState, enqueuerWith, serviceWith } = await campaignServiceKit(api));
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
  });
  afterAll(() => api.close());

  /** The campaign state with its `enqueueChunk` stopped before chunk `stopAt` (1-based): paused, or failing. */
  const stoppedBeforeChunk = (stopAt: number, how: 'pause' | 'fail') => {
    let calls = 0;
    let release: () => void = () => undefined;
    const resumed = new Promise<void>((resolve) => (release = resolve));
    let reached: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (reached = resolve));
    const state: CampaignState = {
      ...realState,
      async enqueueChunk(...args) {
        calls += 1;
        if (calls === stopAt) {
          reached();
          if (how === 'fail') throw new Error('Connection is closed.');
          await resumed;
        }
        return realState.enqueueChunk(...args);
      },
    };
    return { state, stopped, release };
  };

  const b = (tenantId: string) => api.deps.jobs.keys.forTenant(tenantId);
  /** Makes the current enqueuer's lease run out now (what 30 s without progress does). */
  const expireLease = (tenantId: string, campaignId: string) =>
    api.services.redis.zadd(b(tenantId).enqueuing, 1, campaignId);
  const laneJobIds = async (tenantId: string) =>
    api.services.redis.lrange(b(tenantId).bull(lanesOf(tenantId).campaign).wait, 0, -1);

  it('by two enqueuers at once (one took over a lease that ran out): exactly job_count BullMQ jobs, each index on a GPU once', async () => {
    const { tenantId, c } = await campaignTenant(api, 'enqueue-fenced');
    const profile = await c.createProfile({ name: 'Lead', prompt_template: 'lead', ...SMALL_PROFILE });
    const first = stoppedBeforeChunk(2, 'pause');
    const creating = serviceWith(first.state).create(tenantId, {
      name: 'Fenced',
      profile_ids: [profile],
      scenes: SCENES,
      variants: 16,
    });
    await first.stopped;
    const [campaignId] = await api.services.redis.zrange(b(tenantId).campaigns, 0, -1);
    expect(await bullJobsIn(api, lanesOf(tenantId).campaign)).toBe(1000);

    // The first enqueuer is slow (paused), its lease runs out, and two other processes try to take over.
    await expireLease(tenantId, campaignId!);
    const resumed = await Promise.all([
      enqueuerWith(realState).resumeStalled(),
      enqueuerWith(realState).resumeStalled(),
    ]);
    expect(resumed.sort()).toEqual([0, 1]);
    expect(await bullJobsIn(api, lanesOf(tenantId).campaign)).toBe(JOB_COUNT);

    // The first one wakes up and adds its second chunk again: the fence stops it, and the ids are the same.
    first.release();
    expect(await creating).toMatchObject({ campaign_id: campaignId, job_count: JOB_COUNT });
    expect(await bullJobsIn(api, lanesOf(tenantId).campaign)).toBe(JOB_COUNT);
    const ids = await laneJobIds(tenantId);
    expect(new Set(ids).size).toBe(JOB_COUNT);
    expect(new Set(ids)).toEqual(new Set(realState.jobIds(campaignId!, 0, JOB_COUNT)));
    expect(await campaignHash(api, tenantId, campaignId!)).toMatchObject({ enq_cursor: String(JOB_COUNT) });
    expect(await api.services.redis.zscore(b(tenantId).enqueuing, campaignId!)).toBeNull();

    const gpu = scriptedBackend();
    worker = await startWorker(
      api.services,
      { INFERENCE_URLS: 'simulated://0,simulated://1,simulated://2,simulated://3' },
      { backend: gpu.backend },
    );
    const done = await c.until(
      campaignId!,
      (s) => s.status !== 'running',
      'the campaign to complete',
      45_000,
    );
    expect(done).toMatchObject({
      status: 'completed',
      counts: expect.objectContaining({ completed: JOB_COUNT }),
    });
    expect(gpu.reached).toHaveLength(JOB_COUNT);
    expect(new Set(gpu.reached).size).toBe(JOB_COUNT);
  }, 60_000);

  it('by an enqueuer that wakes up after the campaign ran: its late chunk runs no index on a GPU again', async () => {
    const { tenantId, c } = await campaignTenant(api, 'enqueue-late');
    const profile = await c.createProfile({ name: 'Lead', prompt_template: 'lead', ...SMALL_PROFILE });
    const late = stoppedBeforeChunk(2, 'pause');
    const creating = serviceWith(late.state).create(tenantId, {
      name: 'Late',
      profile_ids: [profile],
      scenes: SCENES,
      variants: 16,
    });
    await late.stopped;
    const [campaignId] = await api.services.redis.zrange(b(tenantId).campaigns, 0, -1);
    await expireLease(tenantId, campaignId!);
    expect(await enqueuerWith(realState).resumeStalled()).toBe(1);
    const gpu = scriptedBackend();
    worker = await startWorker(
      api.services,
      { INFERENCE_URLS: 'simulated://0,simulated://1,simulated://2,simulated://3' },
      { backend: gpu.backend },
    );
    const done = await c.until(
      campaignId!,
      (s) => s.status !== 'running',
      'the campaign to complete',
      45_000,
    );

    // BullMQ kept nothing of the finished jobs, so the late chunk adds them again: they must be dropped.
    late.release();
    await creating;
    await waitFor(async () => (await bullJobsIn(api, lanesOf(tenantId).campaign)) === 0, {
      timeoutMs: 20_000,
      what: "the late chunk's jobs to leave the lane",
    });
    expect(gpu.reached).toHaveLength(JOB_COUNT);
    expect(new Set(gpu.reached).size).toBe(JOB_COUNT);
    expect(await c.campaign(campaignId!)).toMatchObject({ status: 'completed', counts: done.counts });
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);
  }, 60_000);

  it('interrupted after its first chunk, is finished by resumeStalled() once the lease runs out, and not before', async () => {
    const { tenantId, c } = await campaignTenant(api, 'enqueue-resumed');
    const profile = await c.createProfile({ name: 'Lead', prompt_template: 'lead', ...SMALL_PROFILE });
    const dying = stoppedBeforeChunk(2, 'fail');
    const answer = await serviceWith(dying.state).create(tenantId, {
      name: 'Interrupted',
      profile_ids: [profile],
      scenes: SCENES,
      variants: 16,
    });
    // Accepted: from CAMPAIGN_CREATE on, the campaign is the deployment's to finish.
    expect(answer).toMatchObject({ job_count: JOB_COUNT, status: 'running' });
    const campaignId = answer.campaign_id;
    expect(await bullJobsIn(api, lanesOf(tenantId).campaign)).toBe(1000);
    expect(await campaignHash(api, tenantId, campaignId)).toMatchObject({ enq_cursor: '1000' });

    const other = enqueuerWith(realState);
    // Its lease still runs: nobody else may enqueue it yet.
    expect(await other.resumeStalled()).toBe(0);
    expect(await bullJobsIn(api, lanesOf(tenantId).campaign)).toBe(1000);

    await expireLease(tenantId, campaignId);
    expect(await other.resumeStalled()).toBe(1);
    expect(await bullJobsIn(api, lanesOf(tenantId).campaign)).toBe(JOB_COUNT);
    expect(new Set(await laneJobIds(tenantId)).size).toBe(JOB_COUNT);
    expect(await campaignHash(api, tenantId, campaignId)).toMatchObject({ enq_cursor: String(JOB_COUNT) });
    expect(await api.services.redis.zscore(b(tenantId).enqueuing, campaignId)).toBeNull();
    expect(await other.resumeStalled()).toBe(0);
  });

  it('after a failed enqueue, a client retry with the same Idempotency-Key gets the same campaign, and there is one', async () => {
    const { tenantId, key, c } = await campaignTenant(api, 'enqueue-retry');
    const profile = await c.createProfile({ name: 'Lead', prompt_template: 'lead', ...SMALL_PROFILE });
    // The API's app, with the campaign service whose first chunk fails (a Redis error mid-enqueue).
    const failing = stoppedBeforeChunk(1, 'fail');
    const app = createApp({
      ...api.deps,
      registry: createRegistry('api'),
      campaigns: serviceWith(failing.state),
    });
    const body = { name: 'Retried', profile_ids: [profile], scenes: [{ prompt: 'a' }, { prompt: 'b' }] };
    const post = () =>
      request(app).post('/campaigns/v1').set('X-API-Key', key).set('Idempotency-Key', 'retry-1').send(body);

    const firstTry = await post();
    expect(firstTry.status).toBe(202);
    const retry = await post();
    expect(retry.status).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.campaign_id).toBe(firstTry.body.campaign_id);
    const campaignId = firstTry.body.campaign_id as string;
    expect(await api.services.mongo.collection('campaigns').countDocuments({ tenant_id: tenantId })).toBe(1);
    expect((await api.services.redis.zrange(b(tenantId).campaigns, 0, -1)).length).toBe(1);

    // Nothing was enqueued; once its lease runs out, any process finishes it, and it runs to its end.
    expect(await bullJobsIn(api, lanesOf(tenantId).campaign)).toBe(0);
    await expireLease(tenantId, campaignId);
    expect(await enqueuerWith(realState).resumeStalled()).toBe(1);
    worker = await startWorker(api.services, {}, { backend: scriptedBackend().backend });
    const done = await c.until(campaignId, (s) => s.status !== 'running', 'the campaign to complete');
    expect(done).toMatchObject({ status: 'completed', counts: expect.objectContaining({ completed: 2 }) });
    await waitFor(async () => (await api.deps.jobs.inFlight(tenantId)) === 0, { what: 'no job in flight' });
  });
});
