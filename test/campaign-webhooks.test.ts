/**
 * A campaign's webhooks (SPEC §6, §7; issue #5), as a receiver on loopback sees them and checks them with the
 * README's own `verifyWebhook` and the tenant's secret: each job's event, then exactly one
 * `campaign.completed` once the last job has ended — whether the jobs all complete or the campaign is
 * cancelled half-way. The GPU is our own seam: prompts starting with "hold" run until aborted.
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import {
  type CampaignClient,
  campaignClient,
  SMALL_PROFILE,
  campaignTenant,
} from '@castforge/testkit/campaigns';
import { type ScriptedBackend, scriptedBackend } from '@castforge/testkit/scripted-backend';
import { waitFor } from '@castforge/testkit/wait';
import {
  type WebhookReceiver,
  readmeVerifyWebhook,
  startReceiver,
} from '@castforge/testkit/webhook-receiver';
import { CampaignEvent, JobEvent } from '@castforge/schemas';
import request from 'supertest';

const LOOPBACK = { CALLBACK_ALLOW_LOOPBACK: 'true' };

describe('the webhooks of a campaign', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  let currentGpu: ScriptedBackend | undefined;
  let receiver: WebhookReceiver;
  const verifyWebhook = readmeVerifyWebhook();
  /** Campaigns a test leaves running (when it fails half-way) are cancelled after it, and held jobs let go. */
  const leftRunning: { c: CampaignClient; id: string }[] = [];

  beforeAll(async () => {
    api = await startApi('story-campaign-webhooks', LOOPBACK);
    receiver = await startReceiver();
  });
  afterEach(async () => {
    for (const { c, id } of leftRunning.splice(0)) await c.cancel(id);
    currentGpu?.releaseHeld();
    await worker?.close();
    worker = undefined;
    currentGpu = undefined;
  });
  afterAll(async () => {
    await receiver.close();
    await api.close();
  });

  /** A worker with two GPU slots on the scripted backend, delivering webhooks to loopback. */
  const startGpus = async () => {
    const scripted = scriptedBackend();
    currentGpu = scripted;
    worker = await startWorker(
      api.services,
      { ...LOOPBACK, INFERENCE_URLS: 'simulated://0,simulated://1', WEBHOOK_RETRY_DELAYS: '0.2' },
      { backend: scripted.backend },
    );
    return scripted;
  };
  const tenant = (tenantId: string) => campaignTenant(api, tenantId);

  it('sends each job its signed event and the campaign exactly one signed campaign.completed when its last job ends', async () => {
    const tenantId = 'hooks';
    const { key, c } = await tenant(tenantId);
    const secret = (await request(api.server).get('/webhooks/v1/secret').set('X-API-Key', key)).body
      .secret as string;
    const profiles = [
      await c.createProfile({ name: 'A', prompt_template: 'a', ...SMALL_PROFILE }),
      await c.createProfile({ name: 'B', prompt_template: 'b', ...SMALL_PROFILE }),
    ];
    const created = await c.launch({
      name: 'Hooked',
      profile_ids: profiles,
      scenes: [{ prompt: 'one' }, { prompt: 'two' }],
      callback_url: receiver.url('/campaign-hooks?token=c1'),
      metadata: { brief: 'B-7' },
    });
    await startGpus();
    const ofCampaign = () => receiver.received.filter((r) => r.body.includes(created.campaign_id));
    const campaignEvents = () => ofCampaign().filter((r) => r.body.includes('"campaign.completed"'));
    await waitFor(() => ofCampaign().length >= 5 && campaignEvents().length >= 1, {
      timeoutMs: 15_000,
      what: 'four job events and the campaign event',
    });

    const jobIds = (await c.allJobs(created.campaign_id)).jobs.map((j) => j.job_id);
    for (const hook of ofCampaign()) {
      expect(hook.url).toBe('/campaign-hooks?token=c1');
      expect(verifyWebhook(secret, hook.headers, hook.body)).toBe(true);
    }
    const jobEvents = ofCampaign()
      .filter((r) => !r.body.includes('"campaign.completed"'))
      .map((r) => JobEvent.parse(JSON.parse(r.body)));
    expect(jobEvents.map((e) => e.job_id).sort()).toEqual([...jobIds].sort());
    expect(jobEvents.every((e) => e.event === 'job.completed' && e.campaign_id === created.campaign_id)).toBe(
      true,
    );

    const [hook] = campaignEvents();
    const event = CampaignEvent.parse(JSON.parse(hook!.body));
    const final = await c.campaign(created.campaign_id);
    expect(event).toEqual({
      event: 'campaign.completed',
      campaign_id: created.campaign_id,
      tenant_id: tenantId,
      status: 'completed',
      job_count: 4,
      counts: { queued: 0, pending: 0, processing: 0, completed: 4, failed: 0, cancelled: 0 },
      timestamp: Math.floor(Date.parse(final.finished_at!) / 1000),
      metadata: { brief: 'B-7' },
    });
    // Exactly one: a later job's event has arrived since, and there is still one campaign event.
    const later = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({
        prompt: 'a later job',
        width: 64,
        height: 64,
        num_inference_steps: 2,
        callback_url: receiver.url('/later'),
      });
    expect(later.status).toBe(202);
    await waitFor(() => receiver.received.some((r) => r.body.includes(later.body.job_id as string)), {
      what: 'the later job event',
    });
    expect(campaignEvents()).toHaveLength(1);
    const deliveries = await request(api.server)
      .get(`/webhooks/v1/deliveries?campaign_id=${created.campaign_id}`)
      .set('X-API-Key', key);
    expect(deliveries.body.deliveries).toEqual([
      expect.objectContaining({ event: 'campaign.completed', status: 'delivered' }),
    ]);
  });

  it('sends each started job its job.cancelled event and the campaign exactly one campaign.completed, status cancelled', async () => {
    const tenantId = 'hooked-cancel';
    const key = await api.keyFor(tenantId);
    const c = campaignClient(api, key);
    const secret = (await request(api.server).get('/webhooks/v1/secret').set('X-API-Key', key)).body
      .secret as string;
    const profileId = await c.createProfile({ name: 'Hooked', prompt_template: 'hooked', ...SMALL_PROFILE });
    const created = await c.launch({
      name: 'Hooked and cancelled',
      profile_ids: [profileId],
      scenes: [{ prompt: 'quick' }, { prompt: 'hold' }],
      variants: 3,
      callback_url: receiver.url('/cancelled-campaign'),
    });
    leftRunning.push({ c, id: created.campaign_id });
    await startGpus();
    await c.until(
      created.campaign_id,
      (x) => x.counts.completed === 3 && x.counts.processing === 2,
      'three jobs done and two on the GPUs',
    );
    const jobs = (await c.allJobs(created.campaign_id)).jobs;
    const running = jobs.filter((j) => j.status === 'processing').map((j) => j.job_id);
    const waiting = jobs.filter((j) => j.status === 'queued').map((j) => j.job_id);
    expect((await c.cancel(created.campaign_id)).status).toBe(202);
    leftRunning.length = 0;

    const ofCampaign = () => receiver.received.filter((r) => r.url === '/cancelled-campaign');
    const campaignEvents = () => ofCampaign().filter((r) => r.body.includes('"campaign.completed"'));
    await waitFor(() => ofCampaign().length >= 6, { what: 'five job events and the campaign event' });
    for (const hook of ofCampaign()) expect(verifyWebhook(secret, hook.headers, hook.body)).toBe(true);
    const events = ofCampaign()
      .filter((r) => !r.body.includes('"campaign.completed"'))
      .map((r) => JobEvent.parse(JSON.parse(r.body)));
    expect(
      events
        .filter((e) => e.status === 'completed')
        .map((e) => e.job_id)
        .sort(),
    ).toEqual(
      jobs
        .slice(0, 3)
        .map((j) => j.job_id)
        .sort(),
    );
    expect(
      events
        .filter((e) => e.status === 'cancelled')
        .map((e) => e.job_id)
        .sort(),
    ).toEqual([...running].sort());
    expect(events.map((e) => e.job_id)).not.toContain(waiting[0]);

    // A later job's event has arrived since: still exactly one campaign event.
    const later = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({
        prompt: 'after',
        width: 64,
        height: 64,
        num_inference_steps: 2,
        callback_url: receiver.url('/later'),
      });
    expect(later.status).toBe(202);
    await waitFor(() => receiver.received.some((r) => r.url === '/later'), { what: 'the later job event' });
    expect(campaignEvents()).toHaveLength(1);
    expect(CampaignEvent.parse(JSON.parse(campaignEvents()[0]!.body))).toMatchObject({
      event: 'campaign.completed',
      campaign_id: created.campaign_id,
      tenant_id: tenantId,
      status: 'cancelled',
      job_count: 6,
      counts: { queued: 0, pending: 0, processing: 0, completed: 3, failed: 0, cancelled: 3 },
    });
  });
});
