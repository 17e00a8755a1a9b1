/**
 * Zero data retention for webhooks (SPEC §9, issue #4): a callback URL carrying a token in its query string is
 * never readable in Redis, whether the job is running, its delivery is being retried or it has been delivered
 * (it is sealed), and the delivery log shows only its scheme, host and path. No webhook secret, current or
 * rotated, is ever written to Redis.
 */
import { redisKeys } from '@castforge/core';
import { type ApiHarness, type WorkerHarness, dumpRedis, startApi, startWorker } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import { type WebhookReceiver, startReceiver } from '@castforge/testkit/webhook-receiver';
import { type Delivery, type JobStatus } from '@castforge/schemas';
import request from 'supertest';
import { scriptedBackend } from '@castforge/testkit/scripted-backend';

const LOOPBACK = { CALLBACK_ALLOW_LOOPBACK: 'true' };
const TOKEN = 'zdr-hook-token-7c41e0b9';
const TENANT = 'zdr-hooks';

describe('zero data retention of callback URLs and webhook secrets', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let receiver: WebhookReceiver;
  const gated = scriptedBackend();
  let key: string;
  let callbackUrl: string;
  let jobId: string;
  const secrets: string[] = [];
  /** Redis as it was at each moment of the job's and the delivery's life. */
  const dumps = new Map<string, Map<string, string>>();
  const snapshot = async (moment: string) =>
    dumps.set(moment, await dumpRedis(api.services.redis, api.services.prefix));
  const deliveries = async () =>
    (
      (await request(api.server).get(`/webhooks/v1/deliveries?job_id=${jobId}`).set('X-API-Key', key))
        .body as {
        deliveries: Delivery[];
      }
    ).deliveries;

  beforeAll(async () => {
    api = await startApi('story-webhook-zdr', LOOPBACK);
    worker = await startWorker(
      api.services,
      { ...LOOPBACK, WEBHOOK_RETRY_DELAYS: '0.3,0.3' },
      { backend: gated.backend },
    );
    key = await api.keyFor(TENANT);
    // Two secrets sign every event during a rotation: neither may reach Redis.
    secrets.push((await request(api.server).get('/webhooks/v1/secret').set('X-API-Key', key)).body.secret);
    secrets.push(
      (await request(api.server).post('/webhooks/v1/secret/rotate').set('X-API-Key', key)).body.secret,
    );
    receiver = await startReceiver(async (_req, index) => {
      if (index === 0) await snapshot('during the first attempt');
      return { status: index === 0 ? 500 : 204 };
    });
    callbackUrl = receiver.url(`/hooks/zdr?token=${TOKEN}&tenant=acme`);

    const submitted = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ prompt: 'gate: a quiet street', width: 64, height: 64, callback_url: callbackUrl });
    expect(submitted.status).toBe(202);
    jobId = submitted.body.job_id as string;
    await waitFor(
      async () =>
        (
          (await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key))
            .body as JobStatus
        ).status === 'processing',
      { what: 'the job to start' },
    );
    await snapshot('while the job runs');
    gated.openAll();
    await waitFor(async () => (await deliveries())[0]?.attempts.length === 1, {
      what: 'the failed first attempt',
    });
    await snapshot('between attempts');
    await waitFor(async () => (await deliveries())[0]?.status === 'delivered', { what: 'the delivery' });
    await snapshot('after delivery');
  });
  afterAll(async () => {
    await receiver.close();
    await worker.close();
    await api.close();
  });

  it('keeps the callback URL only sealed in Redis, at every moment of the job and its delivery', () => {
    expect([...dumps.keys()].sort()).toEqual(
      ['after delivery', 'between attempts', 'during the first attempt', 'while the job runs'].sort(),
    );
    const plain = [
      TOKEN,
      callbackUrl,
      encodeURIComponent(callbackUrl),
      '/hooks/zdr',
      `127.0.0.1:${receiver.port}`,
    ];
    for (const [moment, dump] of dumps) {
      const leaks = [...dump].flatMap(([k, content]) =>
        plain.filter((p) => `${k} ${content}`.includes(p)).map((p) => `${moment}: ${k} holds ${p}`),
      );
      expect(leaks).toEqual([]);
    }
    // The scan does see where the URL waits: sealed in the status record, then in the delivery record.
    const { prefix } = api.services;
    const running = dumps.get('while the job runs')!;
    expect(JSON.parse(running.get(redisKeys(prefix).forTenant(TENANT).job(jobId))!)).toMatchObject({
      callback_url: expect.stringMatching(/^v1\./),
    });
    const between = dumps.get('between attempts')!;
    const record = [...between].find(([k]) => k.startsWith(`${prefix}:{wh}:whd:dlv_`));
    expect(record && JSON.parse(record[1])).toMatchObject({
      url: expect.stringMatching(/^v1\./),
      status: 'pending',
    });
  });

  it('never writes a webhook secret, current or previous, to Redis', () => {
    expect(secrets).toHaveLength(2);
    const forms = secrets.flatMap((s) => {
      const base64 = s.replace(/^whsec_/, '');
      return [s, base64, Buffer.from(base64, 'base64').toString('hex')];
    });
    for (const [moment, dump] of dumps) {
      const leaks = [...dump].filter(([, content]) => forms.some((f) => content.includes(f)));
      expect([moment, leaks.map(([k]) => k)]).toEqual([moment, []]);
    }
  });

  it('shows only the scheme, host and path of the URL in the delivery log, and nothing of it in the status', async () => {
    const [delivery] = await deliveries();
    expect(delivery!.url).toBe(receiver.url('/hooks/zdr'));
    const log = await request(api.server)
      .get(`/webhooks/v1/deliveries?job_id=${jobId}`)
      .set('X-API-Key', key);
    expect(log.text).not.toContain(TOKEN);
    expect(log.text).not.toContain('tenant=acme');
    const status = await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key);
    expect(status.text).not.toContain(TOKEN);
    expect(status.text).not.toContain('/hooks/zdr');
    // The receiver itself got the whole URL, token included: sealing is only for what is kept.
    expect(receiver.received.map((r) => r.url)).toEqual([
      `/hooks/zdr?token=${TOKEN}&tenant=acme`,
      `/hooks/zdr?token=${TOKEN}&tenant=acme`,
    ]);
  });
});
