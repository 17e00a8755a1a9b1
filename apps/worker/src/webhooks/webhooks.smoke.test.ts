import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import request from 'supertest';

describe('webhook smoke', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let receiver: Server;
  const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  beforeAll(async () => {
    api = await startApi('wh-smoke', { CALLBACK_ALLOW_LOOPBACK: 'true' });
    worker = await startWorker(api.services, {
      CALLBACK_ALLOW_LOOPBACK: 'true',
      WEBHOOK_RETRY_DELAYS: '0.1,0.2',
    });
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(received.length < 3 ? 500 : 200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    receiver.close();
    await worker.close();
    await api.close();
  });

  it('delivers a signed event, retrying until a 2xx', async () => {
    const key = await api.keyFor('t1');
    const { secret } = (await request(api.server).get('/webhooks/v1/secret').set('X-API-Key', key)).body as {
      secret: string;
    };
    const port = (receiver.address() as AddressInfo).port;
    const job = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({
        prompt: 'x',
        width: 64,
        height: 64,
        num_inference_steps: 1,
        callback_url: `http://127.0.0.1:${port}/hook?token=abc`,
      });
    expect(job.status).toBe(202);
    const deadline = Date.now() + 10_000;
    while (received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(3);
    const ids = new Set(received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    const last = received[2]!;
    const signed = `${String(last.headers['webhook-id'])}.${String(last.headers['webhook-timestamp'])}.${last.body}`;
    const expected = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
      .update(signed)
      .digest('base64');
    expect(String(last.headers['webhook-signature']).split(' ')).toContain(`v1,${expected}`);
    expect(JSON.parse(last.body)).toMatchObject({
      job_id: job.body.job_id,
      status: 'completed',
      event: 'job.completed',
    });
    const deliveries = await request(api.server)
      .get(`/webhooks/v1/deliveries?job_id=${job.body.job_id}`)
      .set('X-API-Key', key);
    await new Promise((r) => setTimeout(r, 200));
    const again = await request(api.server)
      .get(`/webhooks/v1/deliveries?job_id=${job.body.job_id}`)
      .set('X-API-Key', key);
    expect(deliveries.status).toBe(200);
    expect(again.body.deliveries[0]).toMatchObject({
      status: 'delivered',
      url: `http://127.0.0.1:${port}/hook`,
    });
    expect(again.body.deliveries[0].attempts).toHaveLength(3);
  });
});
