/**
 * Issue 8, defect 8: a campaign's webhooks cost bounded memory. Old code: every campaign job wrote a delivery
 * record holding the sealed URL and the body, kept for 3 days (up to ~7 KB each): a 100,000-job campaign
 * could hold ~0.7 GB of Redis under `noeviction`. Now a campaign job's delivery carries neither (the URL is its
 * campaign's, the body is built from the job's record when sent) and goes once delivered.
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker, waitFor } from '@castforge/testkit';
import { SMALL_PROFILE, campaignTenant } from '@castforge/testkit/campaigns';
import { eventOf, scanKeys, webhooksSettled } from '@castforge/testkit/lifecycle';
import { scriptedBackend } from '@castforge/testkit/scripted-backend';
import {
  type ReceiverAnswer,
  type WebhookReceiver,
  startReceiver,
} from '@castforge/testkit/webhook-receiver';

const LOOPBACK = { CALLBACK_ALLOW_LOOPBACK: 'true' };
/** What a campaign job's delivery record may hold: who, which event, its state. No URL, no body. */
const SMALL_FIELDS = [
  'tenant',
  'webhook_id',
  'event',
  'job_id',
  'campaign_id',
  'status',
  'created_at',
  'short',
  'attempts',
  'next_attempt_at',
];

describe("a campaign's webhook deliveries", () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  let receiver: WebhookReceiver | undefined;
  beforeAll(async () => {
    api = await startApi('lifecycle-campaign-webhooks-memory', LOOPBACK);
  });
  afterEach(async () => {
    await receiver?.close();
    await worker?.close();
    worker = undefined;
  });
  afterAll(() => api.close());

  const deliveryRecords = async () => {
    const keys = (await scanKeys(api.services.redis, `${api.services.prefix}:{wh}:whd:*`)).sort();
    return Promise.all(keys.map(async (key) => ({ key, fields: await api.services.redis.hgetall(key) })));
  };
  const launch = async (tenant: string, jobs: { scenes: number; variants: number }) => {
    const { c } = await campaignTenant(api, tenant);
    const profile = await c.createProfile({ name: 'Lead', prompt_template: 'lead', ...SMALL_PROFILE });
    const created = await c.launch({
      name: 'Hooked',
      profile_ids: [profile],
      scenes: Array.from({ length: jobs.scenes }, (_, i) => ({ prompt: `scene ${i}` })),
      variants: jobs.variants,
      callback_url: receiver!.url(`/hooks/${tenant}`),
    });
    return { c, created };
  };
  const startGpus = async (env: Record<string, string>) => {
    worker = await startWorker(
      api.services,
      { ...LOOPBACK, INFERENCE_URLS: 'simulated://0,simulated://1', ...env },
      { backend: scriptedBackend().backend },
    );
    return worker;
  };

  it('to a healthy receiver: pending ones hold no URL or body, and none is left per job once delivered', async () => {
    // The receiver holds its answers until the test has looked at the deliveries in flight.
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    receiver = await startReceiver(async (): Promise<ReceiverAnswer> => {
      await gate;
      return { status: 204 };
    });
    const { c, created } = await launch('memory-healthy', { scenes: 4, variants: 5 });
    const pool = await startGpus({ WEBHOOK_TIMEOUT_MS: '30000' });
    await c.until(created.campaign_id, (s) => s.status === 'completed', 'the campaign to complete');
    await waitFor(() => receiver!.open() >= 1, { timeoutMs: 10_000, what: 'a delivery in flight' });

    const pending = (await deliveryRecords()).filter((r) => r.fields.job_id);
    expect(pending.length).toBeGreaterThan(0);
    for (const { key, fields } of pending) {
      expect({ key, fields: Object.keys(fields).filter((f) => !SMALL_FIELDS.includes(f)) }).toEqual({
        key,
        fields: [],
      });
    }

    open();
    await webhooksSettled(pool);
    const hooks = receiver.received.map(eventOf).filter((e) => e.campaignId === created.campaign_id);
    expect(hooks.filter((h) => h.event === 'job.completed')).toHaveLength(20);
    expect(hooks.filter((h) => h.event === 'campaign.completed')).toHaveLength(1);
    // One record is left: the campaign's own event's, which a tenant may look up. None per job.
    const left = (await deliveryRecords()).filter((r) => r.fields.campaign_id === created.campaign_id);
    expect(left.map((r) => r.fields.event)).toEqual(['campaign.completed']);
  });

  it('to a receiver that fails first: pending retries hold no URL or body copy, and none is left per job once delivered', async () => {
    const failedOnce = new Set<string>();
    receiver = await startReceiver((request) => {
      const id = String(request.headers['webhook-id']);
      if (failedOnce.has(id)) return { status: 204 };
      failedOnce.add(id);
      return { status: 500 };
    });
    const { c, created } = await launch('memory-flaky', { scenes: 2, variants: 5 });
    const pool = await startGpus({ WEBHOOK_RETRY_DELAYS: '2' });
    await c.until(created.campaign_id, (s) => s.status === 'completed', 'the campaign to complete');
    // Deliveries whose first attempt failed, waiting for their retry.
    const retrying = await waitFor(
      async () => {
        const records = (await deliveryRecords()).filter(
          (r) => r.fields.job_id && r.fields.status === 'pending' && r.fields.attempts,
        );
        return records.length > 0 && records;
      },
      { timeoutMs: 10_000, what: 'a campaign job delivery waiting for its retry' },
    );
    const copies = retrying
      .map(({ key, fields }) => ({
        key,
        extra: Object.keys(fields).filter((f) => !SMALL_FIELDS.includes(f)),
        bodyBytes: fields.body?.length ?? 0,
      }))
      .filter((r) => r.extra.length);

    await webhooksSettled(pool, 30_000);
    const hooks = receiver.received.map(eventOf).filter((e) => e.campaignId === created.campaign_id);
    expect(new Set(hooks.filter((h) => h.event === 'job.completed').map((h) => h.jobId)).size).toBe(10);
    const left = (await deliveryRecords()).filter((r) => r.fields.campaign_id === created.campaign_id);
    expect({ copies, left: left.map((r) => r.fields.event) }).toEqual({
      copies: [],
      left: ['campaign.completed'],
    });
  }, 45_000);
});
