/**
 * Issue 8, defect 4: the events a status change causes must not depend on the process that made the change
 * surviving the next line. Old code: `onJobEnded` (webhook enqueue, campaign finalization) and the cancel
 * route ran after FINISH; if the process died or the call threw in between, the retry found the job terminal
 * and did nothing, and the event was lost. Now FINISH records the event in the bucket's outbox in the same
 * script, and any worker's relay delivers it, at least once, with one webhook-id.
 *
 * "The process died before the event" is reproduced by ending jobs with no worker running at all (the API's
 * cancel route, or the job store's finish as a worker's processor calls it), and by a relay that read an
 * entry and stopped before acknowledging it.
 */
import { webhookIdOf } from '@castforge/core';
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import { SMALL_PROFILE, campaignTenant } from '@castforge/testkit/campaigns';
import { eventOf, webhooksSettled } from '@castforge/testkit/lifecycle';
import { type ScriptedBackend, scriptedBackend } from '@castforge/testkit/scripted-backend';
import { type WebhookReceiver, startReceiver } from '@castforge/testkit/webhook-receiver';
import request from 'supertest';

const LOOPBACK = { CALLBACK_ALLOW_LOOPBACK: 'true' };

describe('events of a job ended while no worker was there to relay them', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    api = await startApi('lifecycle-events', LOOPBACK);
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

  const startPool = async (): Promise<{ pool: WorkerHarness; gpu: ScriptedBackend }> => {
    const gpu = scriptedBackend();
    worker = await startWorker(api.services, LOOPBACK, { backend: gpu.backend });
    return { pool: worker, gpu };
  };
  const submit = async (key: string, path: string) => {
    const res = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ prompt: 'a quiet harbour', width: 64, height: 64, callback_url: receiver.url(path) });
    expect(res.status).toBe(202);
    return res.body.job_id as string;
  };
  const outboxOf = (tenantId: string) => api.deps.jobs.keys.forTenant(tenantId).outbox;
  const hooksFor = (jobId: string) => receiver.received.map(eventOf).filter((e) => e.jobId === jobId);

  it('a job cancelled through the API with no worker running: job.cancelled arrives once a worker starts, exactly once', async () => {
    const tenantId = 'events-cancel';
    const key = await api.keyFor(tenantId);
    const jobId = await submit(key, '/hooks/cancel');
    const cancelled = await request(api.server)
      .post(`/generate/image/v1/cancel/${jobId}`)
      .set('X-API-Key', key);
    expect(cancelled.status).toBe(202);
    // The event is recorded with the cancel, in Redis, waiting for any relay; nobody has sent it yet.
    expect(await api.services.redis.xlen(outboxOf(tenantId))).toBe(1);
    expect(hooksFor(jobId)).toEqual([]);

    const { pool, gpu } = await startPool();
    await webhooksSettled(pool);
    // A relay pass again (as after a crash) sends nothing new.
    await pool.pool.endings.relay();
    await pool.pool.endings.reclaim();
    await webhooksSettled(pool);
    expect(hooksFor(jobId)).toEqual([
      { event: 'job.cancelled', jobId, campaignId: null, webhookId: webhookIdOf(jobId, 'job.cancelled') },
    ]);
    expect(gpu.reached).toEqual([]);
  });

  it('a job a worker ended before its relay ran: job.failed arrives from the next worker, exactly once', async () => {
    const tenantId = 'events-worker-died';
    const key = await api.keyFor(tenantId);
    const jobId = await submit(key, '/hooks/died');
    // What the dead worker's processor did before the process went: START, then FINISH; no relay ran.
    const ref = api.deps.jobs.refOf(tenantId, jobId);
    expect((await api.deps.jobs.start(ref, { prompt: 'p', seed: 1 })).kind).toBe('started');
    const ended = await api.deps.jobs.finish(ref, 'failed', {
      error: 'the backend rejected the request',
      failure_reason_code: 'INPUT_INVALID',
      retryable: false,
    });
    expect(ended.changed).toBe(true);
    expect(await api.services.redis.xlen(outboxOf(tenantId))).toBe(1);

    const { pool, gpu } = await startPool();
    await webhooksSettled(pool);
    expect(hooksFor(jobId)).toEqual([
      { event: 'job.failed', jobId, campaignId: null, webhookId: webhookIdOf(jobId, 'job.failed') },
    ]);
    const body = JSON.parse(receiver.received.find((r) => r.body.includes(jobId))!.body) as Record<
      string,
      unknown
    >;
    expect(body).toMatchObject({ status: 'failed', failure_reason_code: 'INPUT_INVALID' });
    // Its BullMQ job was still waiting: the next worker drops it without a GPU run.
    expect(gpu.reached).toEqual([]);
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);
  });

  it('a campaign whose last job was cancelled with no worker running: its finalization and campaign.completed happen once a worker starts, once', async () => {
    const { tenantId, c } = await campaignTenant(api, 'events-campaign');
    const profile = await c.createProfile({ name: 'Lead', prompt_template: 'lead', ...SMALL_PROFILE });
    const created = await c.launch({
      name: 'One job',
      profile_ids: [profile],
      scenes: [{ prompt: 'one' }],
      callback_url: receiver.url('/hooks/campaign'),
    });
    const [jobId] = (await c.allJobs(created.campaign_id)).jobs.map((j) => j.job_id);
    expect((await c.cancelJob(jobId!)).status).toBe(202);
    expect((await c.campaign(created.campaign_id)).status).toBe('completed_with_failures');
    // Its ending is recorded, not yet carried out: MongoDB still says running.
    expect(
      await api.services.mongo.collection('campaigns').findOne({ campaign_id: created.campaign_id }),
    ).toMatchObject({ status: 'running' });

    const { pool, gpu } = await startPool();
    await webhooksSettled(pool);
    const hooks = receiver.received.map(eventOf).filter((e) => e.campaignId === created.campaign_id);
    expect(hooks.map((h) => [h.event, h.webhookId]).sort()).toEqual(
      [
        ['campaign.completed', webhookIdOf(created.campaign_id, 'campaign.completed')],
        ['job.cancelled', webhookIdOf(jobId!, 'job.cancelled')],
      ].sort(),
    );
    expect(
      await api.services.mongo.collection('campaigns').findOne({ campaign_id: created.campaign_id }),
    ).toMatchObject({ status: 'completed_with_failures', counts: expect.objectContaining({ cancelled: 1 }) });
    expect(gpu.reached).toEqual([]);
    expect(await api.deps.jobs.inFlight(tenantId)).toBe(0);
  });

  it.each([
    ['read it and died at once', false],
    ['read it, recorded the delivery, and died before acknowledging it', true],
  ])(
    'an outbox entry whose relay %s is finished by another relay, delivered once',
    async (_how, recorded) => {
      const tenantId = `events-relay-died-${recorded ? 'late' : 'early'}`;
      const key = await api.keyFor(tenantId);
      const jobId = await submit(key, `/hooks/relay-${tenantId}`);
      expect(
        (await request(api.server).post(`/generate/image/v1/cancel/${jobId}`).set('X-API-Key', key)).status,
      ).toBe(202);
      // The dead relay read the entry as its consumer (and maybe did its work) and never acknowledged it.
      const outbox = outboxOf(tenantId);
      await api.services.redis.xgroup('CREATE', outbox, 'relay', '0', 'MKSTREAM').catch((err: Error) => {
        if (!/BUSYGROUP/.test(err.message)) throw err;
      });
      const read = (await api.services.redis.xreadgroup(
        'GROUP',
        'relay',
        'dead-relay',
        'COUNT',
        10,
        'STREAMS',
        outbox,
        '>',
      )) as [string, [string, string[]][]][] | null;
      const entry = read?.[0]?.[1][0];
      if (!entry) throw new Error('the outbox entry was not there to read');
      const [entryId, raw] = entry;
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < raw.length; i += 2) fields[raw[i]!] = raw[i + 1]!;
      expect(fields).toMatchObject({ k: 'j', id: jobId, ev: 'cancelled' });
      if (recorded)
        await api.deps.outbox.ensure({ tenantId, event: 'job.cancelled', jobId, sealedUrl: fields.u! });
      // It took the entry a minute ago (XCLAIM's IDLE sets how long ago), so another relay may now reclaim it.
      await api.services.redis.xclaim(outbox, 'relay', 'dead-relay', 0, entryId, 'IDLE', 60_000);

      const { pool } = await startPool();
      await webhooksSettled(pool);
      expect(await api.services.redis.xpending(outbox, 'relay')).toEqual([0, null, null, null]);
      expect(hooksFor(jobId)).toEqual([
        { event: 'job.cancelled', jobId, campaignId: null, webhookId: webhookIdOf(jobId, 'job.cancelled') },
      ]);
    },
  );
});
