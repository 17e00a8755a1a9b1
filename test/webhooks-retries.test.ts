/**
 * Webhook delivery over time (SPEC §6, issue #4): a failing receiver is retried with growing gaps under one
 * webhook-id and every attempt shows in the delivery log; a redirect is never followed; a delivered or dead
 * event can be sent again; nobody sees or redelivers another tenant's deliveries; and the worker counts it all
 * in its metrics. Retry delays are shrunk to 0.3 s and 0.9 s (three attempts) so this runs in seconds.
 */
import { type ApiHarness, expectError, startApi } from '@castforge/testkit';
import { type WorkerHarness, startWorker } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import {
  type WebhookReceiver,
  readmeVerifyWebhook,
  startReceiver,
} from '@castforge/testkit/webhook-receiver';
import { type Delivery, DeliveryList } from '@castforge/schemas';
import request from 'supertest';
import { ApiConfig } from '../apps/api/src/config';
import { WorkerConfig } from '../apps/worker/src/config';

const LOOPBACK = { CALLBACK_ALLOW_LOOPBACK: 'true' };
const DELAYS = [0.3, 0.9];

describe('webhook retries, the delivery log and redelivery', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  const receivers: WebhookReceiver[] = [];
  const verifyWebhook = readmeVerifyWebhook();

  beforeAll(async () => {
    api = await startApi('story-webhook-retries', {
      ...LOOPBACK,
      WEBHOOK_ATTEMPTS: String(DELAYS.length + 1),
    });
    worker = await startWorker(api.services, { ...LOOPBACK, WEBHOOK_RETRY_DELAYS: DELAYS.join(',') });
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await worker.close();
    await api.close();
  });

  const receiver = async (...args: Parameters<typeof startReceiver>) => {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  };
  const submit = async (key: string, callbackUrl: string) => {
    const res = await request(api.server).post('/generate/image/v1').set('X-API-Key', key).send({
      prompt: 'a tram at night',
      width: 64,
      height: 64,
      num_inference_steps: 1,
      callback_url: callbackUrl,
    });
    expect(res.status).toBe(202);
    return res.body.job_id as string;
  };
  const deliveriesOf = async (key: string, jobId: string) => {
    const res = await request(api.server)
      .get(`/webhooks/v1/deliveries?job_id=${jobId}`)
      .set('X-API-Key', key);
    expect(res.status).toBe(200);
    // The log keeps to its published schema (attempt time, status code or error, next attempt time).
    return DeliveryList.strict().parse(res.body).deliveries;
  };
  /** The job's only delivery once it satisfies `accept`. */
  const deliveryWhen = (key: string, jobId: string, accept: (d: Delivery) => boolean, what: string) =>
    waitFor(
      async () => {
        const [delivery, ...more] = await deliveriesOf(key, jobId);
        expect(more).toEqual([]);
        return delivery && accept(delivery) && delivery;
      },
      { timeoutMs: 15_000, what: `the delivery of ${jobId} ${what}` },
    );
  const redeliver = (key: string, deliveryId: string) =>
    request(api.server).post(`/webhooks/v1/deliveries/${deliveryId}/redeliver`).set('X-API-Key', key);
  const secretOf = async (key: string) =>
    ((await request(api.server).get('/webhooks/v1/secret').set('X-API-Key', key)).body as { secret: string })
      .secret;

  it('by default, the API and the workers agree on the number of attempts of a delivery', () => {
    const apiAttempts = ApiConfig.parse({}).WEBHOOK_ATTEMPTS;
    const workerAttempts = WorkerConfig.parse({}).WEBHOOK_RETRY_DELAYS.length + 1;
    expect(apiAttempts).toBe(workerAttempts);
  });

  it('gives a receiver that answers 500 twice three attempts with one webhook-id and growing gaps, each in the log', async () => {
    const key = await api.keyFor('retry-500');
    const secret = await secretOf(key);
    let jobId = '';
    /** The delivery log as the API showed it when each attempt arrived, before the receiver answered. */
    const seenDuring: Delivery[] = [];
    const hooks = await receiver(async (_req, index) => {
      const [delivery] = await deliveriesOf(key, jobId);
      seenDuring.push(delivery!);
      return { status: index < 2 ? 500 : 200 };
    });
    jobId = await submit(key, hooks.url('/hooks/retry?token=r-500'));

    const final = await deliveryWhen(key, jobId, (d) => d.status !== 'pending', 'to end');
    expect(hooks.received).toHaveLength(3);
    const ids = new Set(hooks.received.map((r) => r.headers['webhook-id']));
    expect([...ids]).toEqual([final.webhook_id]);
    expect(new Set(hooks.received.map((r) => r.body)).size).toBe(1);
    for (const hook of hooks.received) expect(verifyWebhook(secret, hook.headers, hook.body)).toBe(true);
    const [first, second, third] = hooks.received.map((r) => r.at);
    const gap1 = second! - first!;
    const gap2 = third! - second!;
    expect(gap1).toBeGreaterThanOrEqual(200); // 0.3 s − 20 % jitter, never less
    expect(gap2).toBeGreaterThan(gap1);

    expect(final).toMatchObject({
      status: 'delivered',
      job_id: jobId,
      event: 'job.completed',
      url: hooks.url('/hooks/retry'),
      next_attempt_at: null,
    });
    expect(final.attempts).toEqual([
      {
        at: expect.any(String),
        status_code: 500,
        error: expect.stringMatching(/500/),
        duration_ms: expect.any(Number),
      },
      {
        at: expect.any(String),
        status_code: 500,
        error: expect.stringMatching(/500/),
        duration_ms: expect.any(Number),
      },
      { at: expect.any(String), status_code: 200, error: null, duration_ms: expect.any(Number) },
    ]);
    const at = final.attempts.map((a) => Date.parse(a.at));
    expect(at[0]! < at[1]! && at[1]! < at[2]!).toBe(true);

    // While pending, the log showed every attempt made so far and when the next one was due.
    expect(seenDuring.map((d) => [d.status, d.attempts.length])).toEqual([
      ['pending', 0],
      ['pending', 1],
      ['pending', 2],
    ]);
    const planned = seenDuring
      .slice(1)
      .map((d) => Date.parse(d.next_attempt_at!) - Date.parse(d.attempts.at(-1)!.at));
    expect(planned[0]).toBeGreaterThan(0);
    expect(planned[1]).toBeGreaterThan(planned[0]!);
    expect(seenDuring[1]!.attempts[0]).toEqual(final.attempts[0]);
  });

  it('does not follow a redirect, to a private address or even to an allowed one: each counts as failed until dead', async () => {
    const key = await api.keyFor('retry-redirect');
    const elsewhere = await receiver();
    const toPrivate = await receiver(() => ({ status: 302, headers: { Location: 'http://10.0.0.1/' } }));
    const toLoopback = await receiver(() => ({
      status: 307,
      headers: { Location: elsewhere.url('/stolen') },
    }));
    const jobs = [await submit(key, toPrivate.url('/r302')), await submit(key, toLoopback.url('/r307'))];

    const [dead302, dead307] = await Promise.all(
      jobs.map((jobId) => deliveryWhen(key, jobId, (d) => d.status !== 'pending', 'to end')),
    );
    expect(dead302).toMatchObject({ status: 'dead', next_attempt_at: null });
    expect(dead302!.attempts.map((a) => [a.status_code, a.error])).toEqual([
      [302, expect.stringMatching(/302/)],
      [302, expect.stringMatching(/302/)],
      [302, expect.stringMatching(/302/)],
    ]);
    expect(dead307).toMatchObject({ status: 'dead' });
    expect(dead307!.attempts.map((a) => a.status_code)).toEqual([307, 307, 307]);
    expect(toPrivate.received).toHaveLength(3);
    expect(toLoopback.received).toHaveLength(3);
    expect(elsewhere.connections()).toBe(0);
  });

  it('redelivers a delivered event with the same webhook-id and body, freshly signed', async () => {
    const key = await api.keyFor('redeliver-delivered');
    const secret = await secretOf(key);
    const hooks = await receiver();
    const jobId = await submit(key, hooks.url('/again'));
    const delivered = await deliveryWhen(key, jobId, (d) => d.status === 'delivered', 'to be delivered');

    const res = await redeliver(key, delivered.delivery_id);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      delivery_id: delivered.delivery_id,
      webhook_id: delivered.webhook_id,
      status: 'pending',
    });
    const again = await deliveryWhen(
      key,
      jobId,
      (d) => d.status === 'delivered' && d.attempts.length === 2,
      'again',
    );
    expect(again.webhook_id).toBe(delivered.webhook_id);
    expect(hooks.received).toHaveLength(2);
    const [before, after] = hooks.received;
    expect(after!.headers['webhook-id']).toBe(before!.headers['webhook-id']);
    expect(after!.body).toBe(before!.body);
    expect(verifyWebhook(secret, after!.headers, after!.body)).toBe(true);
  });

  it('redelivers a dead event with the same webhook-id once the receiver is back', async () => {
    const key = await api.keyFor('redeliver-dead');
    let healthy = false;
    const hooks = await receiver(() => ({ status: healthy ? 204 : 503 }));
    const jobId = await submit(key, hooks.url('/down'));
    const dead = await deliveryWhen(key, jobId, (d) => d.status === 'dead', 'to be dead');
    expect(dead.attempts).toHaveLength(DELAYS.length + 1);

    healthy = true;
    expect((await redeliver(key, dead.delivery_id)).status).toBe(202);
    const delivered = await deliveryWhen(key, jobId, (d) => d.status === 'delivered', 'to be delivered');
    expect(delivered.attempts.map((a) => a.status_code)).toEqual([503, 503, 503, 204]);
    expect(new Set(hooks.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([dead.webhook_id]));
    expect(hooks.received).toHaveLength(4);
  });

  it('answers 409 to redelivering a delivery that is still being attempted, and queues nothing more', async () => {
    const key = await api.keyFor('redeliver-pending');
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const hooks = await receiver(async () => {
      await released;
      return { status: 200 };
    });
    const jobId = await submit(key, hooks.url('/slow'));
    await waitFor(() => hooks.received.length === 1, { what: 'the first attempt to arrive' });
    const [pending] = await deliveriesOf(key, jobId);
    expect(pending!.status).toBe('pending');

    const res = await redeliver(key, pending!.delivery_id);
    expectError(res, 'CONFLICT');
    release();
    const delivered = await deliveryWhen(key, jobId, (d) => d.status === 'delivered', 'to be delivered');
    expect(delivered.attempts).toHaveLength(1);
    expect(hooks.received).toHaveLength(1);
  });

  it("answers 404 to redelivering an unknown, malformed or another tenant's delivery, and changes nothing", async () => {
    const owner = await api.keyFor('redeliver-owner');
    const stranger = await api.keyFor('redeliver-stranger');
    const hooks = await receiver();
    const jobId = await submit(owner, hooks.url('/mine'));
    const delivered = await deliveryWhen(owner, jobId, (d) => d.status === 'delivered', 'to be delivered');

    const foreign = expectError(await redeliver(stranger, delivered.delivery_id), 'NOT_FOUND');
    const unknown = expectError(await redeliver(stranger, 'dlv_0123456789abcdef'), 'NOT_FOUND');
    expectError(await redeliver(owner, 'dlv_not-an-id'), 'NOT_FOUND');
    // A foreign id is answered exactly like an unknown one (SPEC §1), naming only the id that was sent.
    expect(foreign.message.replace(delivered.delivery_id, '<id>')).toBe(
      unknown.message.replace('dlv_0123456789abcdef', '<id>'),
    );
    const [after] = await deliveriesOf(owner, jobId);
    expect(after).toEqual(delivered);
    expect(hooks.received).toHaveLength(1);
  });

  it("shows nobody the deliveries of another tenant's job: the same empty list as for an unknown job", async () => {
    const owner = await api.keyFor('log-owner');
    const stranger = await api.keyFor('log-stranger');
    const hooks = await receiver();
    const jobId = await submit(owner, hooks.url('/private-log?token=owner-only'));
    await deliveryWhen(owner, jobId, (d) => d.status === 'delivered', 'to be delivered');

    const foreign = await request(api.server)
      .get(`/webhooks/v1/deliveries?job_id=${jobId}`)
      .set('X-API-Key', stranger);
    const unknown = await request(api.server)
      .get('/webhooks/v1/deliveries?job_id=job_0123456789abcdef')
      .set('X-API-Key', stranger);
    expect([foreign.status, foreign.body]).toEqual([200, { deliveries: [] }]);
    expect([unknown.status, unknown.body]).toEqual([200, { deliveries: [] }]);
    expectError(
      await request(api.server).get('/webhooks/v1/deliveries').set('X-API-Key', owner),
      'INVALID_PARAMETERS',
    );
    expect((await request(api.server).get(`/webhooks/v1/deliveries?job_id=${jobId}`)).status).toBe(401);
  });

  describe("the worker's metrics", () => {
    /** The sum of a metric's samples whose labels include these, from the worker's registry. */
    const valueOf = async (name: string, labels: Record<string, string> = {}) => {
      const text = await worker.registry.metrics();
      let sum = 0;
      for (const line of text.split('\n')) {
        const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (!match || match[1] !== name) continue;
        const found = Object.fromEntries(
          [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
        );
        if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum += Number(match[3]);
      }
      return sum;
    };
    const snapshot = async () => ({
      success: await valueOf('webhook_delivery_attempts_total', { result: 'success' }),
      failure: await valueOf('webhook_delivery_attempts_total', { result: 'failure' }),
      delivered: await valueOf('webhook_deliveries_total', { outcome: 'delivered' }),
      dead: await valueOf('webhook_deliveries_total', { outcome: 'dead' }),
      durations: await valueOf('webhook_delivery_duration_seconds_count'),
    });

    it('counts attempts by result, deliveries by outcome, and times every attempt', async () => {
      const key = await api.keyFor('metrics');
      const fine = await receiver(() => ({ status: 204 }));
      const gone = await receiver(() => ({ status: 410 }));
      const before = await snapshot();
      const delivered = await submit(key, fine.url('/ok'));
      const dead = await submit(key, gone.url('/gone'));
      await deliveryWhen(key, delivered, (d) => d.status === 'delivered', 'to be delivered');
      await deliveryWhen(key, dead, (d) => d.status === 'dead', 'to be dead (410 ends it at once)');

      const after = await snapshot();
      expect({
        success: after.success - before.success,
        failure: after.failure - before.failure,
        delivered: after.delivered - before.delivered,
        dead: after.dead - before.dead,
        durations: after.durations - before.durations,
      }).toEqual({ success: 1, failure: 1, delivered: 1, dead: 1, durations: 2 });
      expect(gone.received).toHaveLength(1);

      const text = await worker.registry.metrics();
      expect(text).toMatch(/^# TYPE webhook_delivery_duration_seconds histogram$/m);
      expect(text).toMatch(/^webhook_delivery_duration_seconds_bucket\{le="\+Inf"/m);
      const webhookLines = text.split('\n').filter((l) => l.startsWith('webhook_'));
      expect(webhookLines.filter((l) => /job_[0-9a-f]{16}|dlv_|msg_|metrics"|127\.0\.0\.1/.test(l))).toEqual(
        [],
      );
    });
  });
});
