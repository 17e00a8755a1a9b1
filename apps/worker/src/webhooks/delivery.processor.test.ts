import { randomBytes } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import {
  type DeliveryRecord,
  type Redis,
  type Resolve,
  WEBHOOK_QUEUE,
  createKeyStore,
  createLogger,
  createRedis,
  createRegistry,
  createSealer,
  createUrlGuard,
  createWebhookOutbox,
  createWebhookSecrets,
  redisKeys,
  secretKey,
} from '@castforge/core';
import { type TestServices, openServices } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import { Worker } from 'bullmq';
import { createHmac } from 'node:crypto';
import { WorkerConfig } from '../config';
import { DeliveryAttemptFailed, createDeliveryProcessor, nextDelayMs } from './delivery.processor';

const HOUR_MS = 3600_000;

describe('the webhook retry schedule', () => {
  const defaults = WorkerConfig.parse({}).WEBHOOK_RETRY_DELAYS;

  it('by default spreads the attempts over about 24 hours', () => {
    const totalHours = defaults.reduce((sum, s) => sum + s, 0) / 3600;
    expect(totalHours).toBeGreaterThan(20);
    expect(totalHours).toBeLessThan(26);
  });

  it('by default backs off: no delay is shorter than the one before it', () => {
    expect(defaults.every((delay, i) => i === 0 || delay >= defaults[i - 1]!)).toBe(true);
    expect(defaults[0]).toBeLessThanOrEqual(60);
  });

  it('with jitter, still spreads the whole schedule over 24 h ± 20 %', () => {
    const total = defaults.reduce((sum, _s, i) => sum + nextDelayMs(defaults, i + 1), 0) / HOUR_MS;
    expect(total).toBeGreaterThan(0.8 * 20);
    expect(total).toBeLessThan(1.2 * 26);
  });

  it('waits the delay of the attempt that failed, within ±20 % jitter', () => {
    const delays = [1, 10, 100];
    for (const [attempt, base] of [
      [1, 1000],
      [2, 10_000],
      [3, 100_000],
      [7, 100_000], // past the end of the list: the last delay again
    ] as const) {
      for (let i = 0; i < 50; i++) {
        const ms = nextDelayMs(delays, attempt);
        expect(ms).toBeGreaterThanOrEqual(0.8 * base);
        expect(ms).toBeLessThanOrEqual(1.2 * base);
      }
    }
  });

  it('honours a longer Retry-After from the receiver', () => {
    expect(nextDelayMs([1], 1, 120_000)).toBe(120_000);
    expect(nextDelayMs([5, 30], 1, 3600_000)).toBe(3600_000);
  });

  it('honours Retry-After only up to an hour', () => {
    expect(nextDelayMs([1], 1, 2 * HOUR_MS)).toBe(HOUR_MS);
    expect(nextDelayMs([1], 1, 48 * HOUR_MS)).toBe(HOUR_MS);
  });

  it('keeps its own delay when Retry-After asks for less', () => {
    const ms = nextDelayMs([100], 1, 1000);
    expect(ms).toBeGreaterThanOrEqual(80_000);
    expect(ms).toBeLessThanOrEqual(120_000);
  });
});

/**
 * The delivery processor run by a real BullMQ Worker against the real Redis and MongoDB, with the URL guard's
 * resolver injected, so a name can resolve to one address when the job is submitted and another at delivery.
 */
describe('delivering a webhook', () => {
  const TENANT = 'dlv-unit';
  /** The body a job's event is sent with (the same bytes on every attempt). */
  const bodyOf = (jobId: string) =>
    JSON.stringify({ event: 'job.completed', job_id: jobId, status: 'completed' });
  let services: TestServices;
  let workerRedis: Redis;
  const sealer = createSealer(randomBytes(32));
  const logger = createLogger({ name: 'delivery-test', level: 'silent' });
  let run = 0;
  /** What the injected resolver answers for each name; tests change it between submit and delivery. */
  const dns = new Map<string, string[]>();
  const asked: string[] = [];
  const resolve: Resolve = (hostname) => {
    asked.push(hostname);
    const addresses = dns.get(hostname);
    if (!addresses) return Promise.reject(new Error(`getaddrinfo ENOTFOUND ${hostname}`));
    return Promise.resolve(addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };

  beforeAll(async () => {
    services = await openServices('delivery-processor');
    await createKeyStore(services.mongo).create(TENANT, 'test');
    workerRedis = createRedis(services.redisTarget, 'worker', logger);
  });
  afterAll(async () => {
    workerRedis.disconnect();
    await services.close();
  });
  beforeEach(() => asked.splice(0));

  /** A delivery worker of its own (own key prefix), the way pool.ts wires it. */
  function startDeliveries(options: {
    allowLoopback: boolean;
    delays: number[];
    perHostConcurrency?: number;
  }) {
    run += 1;
    const keys = redisKeys(`${services.prefix}:${run}`);
    const attempts = options.delays.length + 1;
    const outbox = createWebhookOutbox({ redis: services.redis, keys, sealer, attempts });
    const secrets = createWebhookSecrets(services.mongo, { cacheMs: 0 });
    const guard = createUrlGuard({ allowLoopback: options.allowLoopback, resolve });
    const worker = new Worker(
      WEBHOOK_QUEUE,
      createDeliveryProcessor({
        redis: services.redis,
        keys,
        outbox,
        // Our own seam: the event this test's deliveries carry, as the pool would build it from a job record.
        eventBody: (delivery) => Promise.resolve(bodyOf(delivery.jobId!)),
        secrets,
        sealer,
        guard,
        retryDelaysSeconds: options.delays,
        timeoutMs: 2000,
        perHostConcurrency: options.perHostConcurrency ?? 8,
        perTenantConcurrency: 16,
        registry: createRegistry('worker-test'),
        logger,
      }),
      {
        connection: workerRedis,
        prefix: keys.webhooks.bullPrefix,
        concurrency: 4,
        removeOnComplete: { count: 0 },
        removeOnFail: { count: 0 },
        settings: {
          backoffStrategy: (made: number, _type?: string, err?: Error) =>
            err instanceof DeliveryAttemptFailed ? err.delayMs : options.delays[0]! * 1000 * made,
        },
      },
    );
    worker.on('error', () => undefined);
    /** Vets the URL as the API does at submit, then queues an event for it with the URL sealed. */
    const submit = async (url: string) => {
      await guard.checkAtSubmit(url);
      return outbox.ensure({
        tenantId: TENANT,
        sealedUrl: sealer.seal(url),
        event: 'job.completed',
        jobId: `job_${randomBytes(8).toString('hex')}`,
      });
    };
    const ended = (deliveryId: string) =>
      waitFor(
        async () => {
          const record = await outbox.read(deliveryId);
          return record && record.status !== 'pending' && record;
        },
        { timeoutMs: 10_000, what: `delivery ${deliveryId} to end` },
      );
    return {
      outbox,
      secrets,
      submit,
      ended,
      async close() {
        await worker.close();
        await outbox.close();
      },
    };
  }

  /** A receiver on 127.0.0.1 that counts connections and answers every request with `status`. */
  async function startReceiver(answer: { status: number; headers?: Record<string, string> }) {
    const requests: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];
    let connections = 0;
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        requests.push({ url: req.url ?? '', headers: req.headers, body });
        res.writeHead(answer.status, answer.headers).end();
      });
    });
    server.on('connection', () => (connections += 1));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      port: (server.address() as AddressInfo).port,
      requests,
      connections: () => connections,
      close: () => {
        server.closeAllConnections();
        return new Promise<void>((r) => server.close(() => r()));
      },
    };
  }

  it('refuses a URL that passed at submit but whose host now resolves to a private address, without connecting', async () => {
    const deliveries = startDeliveries({ allowLoopback: false, delays: [] });
    try {
      dns.set('flip.example.com', ['93.184.216.34']);
      const deliveryId = await deliveries.submit('https://flip.example.com/hook?token=t0k3n');
      dns.set('flip.example.com', ['10.0.0.5']);

      const record = await deliveries.ended(deliveryId);
      expect(record.status).toBe('dead');
      expect(record.attempts).toEqual([
        {
          at: expect.any(String),
          status_code: null,
          error: expect.stringMatching(/^refused: .*10\.0\.0\.5/),
          duration_ms: expect.any(Number),
        },
      ]);
      expect(asked).toEqual(['flip.example.com', 'flip.example.com']);
    } finally {
      await deliveries.close();
    }
  });

  it('refuses a host that now resolves to loopback, so a receiver listening there never sees a connection', async () => {
    const receiver = await startReceiver({ status: 200 });
    const deliveries = startDeliveries({ allowLoopback: false, delays: [] });
    try {
      dns.set('rebind.example.com', ['93.184.216.34']);
      const deliveryId = await deliveries.submit(`https://rebind.example.com:${receiver.port}/hook`);
      dns.set('rebind.example.com', ['127.0.0.1']);

      const record = await deliveries.ended(deliveryId);
      expect(record.status).toBe('dead');
      expect(record.attempts[0]?.error).toMatch(/^refused: .*loopback/);
      expect(receiver.connections()).toBe(0);
    } finally {
      await deliveries.close();
      await receiver.close();
    }
  });

  it('refuses a host that now resolves to a public and a private address', async () => {
    const deliveries = startDeliveries({ allowLoopback: false, delays: [] });
    try {
      dns.set('split.example.com', ['93.184.216.34']);
      const deliveryId = await deliveries.submit('https://split.example.com/hook');
      dns.set('split.example.com', ['93.184.216.34', '169.254.169.254']);

      const record = await deliveries.ended(deliveryId);
      expect(record.status).toBe('dead');
      expect(record.attempts[0]?.error).toMatch(/^refused: .*169\.254\.169\.254/);
    } finally {
      await deliveries.close();
    }
  });

  it('retries a refused attempt like any failed one, and delivers once the host resolves to an allowed address again', async () => {
    const receiver = await startReceiver({ status: 204 });
    const deliveries = startDeliveries({ allowLoopback: true, delays: [0.1, 0.1] });
    try {
      dns.set('flaky.example.test', ['127.0.0.1']);
      const deliveryId = await deliveries.submit(`http://flaky.example.test:${receiver.port}/hook`);
      dns.set('flaky.example.test', ['10.9.9.9']);
      await waitFor(async () => ((await deliveries.outbox.read(deliveryId))?.attempts.length ?? 0) >= 1, {
        what: 'the refused first attempt',
      });
      dns.set('flaky.example.test', ['127.0.0.1']);

      const record = await deliveries.ended(deliveryId);
      expect(record.status).toBe('delivered');
      expect(record.attempts[0]?.error).toMatch(/^refused: .*10\.9\.9\.9/);
      expect(record.attempts.at(-1)).toMatchObject({ status_code: 204, error: null });
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await deliveries.close();
      await receiver.close();
    }
  });

  it('connects to the address it vetted, not to a fresh DNS answer, and keeps the host, path and query of the URL', async () => {
    const receiver = await startReceiver({ status: 200 });
    const deliveries = startDeliveries({ allowLoopback: true, delays: [] });
    try {
      // The system resolver knows nothing of this name: only the vetted address can have been used.
      dns.set('receiver.castforge.test', ['127.0.0.1']);
      const deliveryId = await deliveries.submit(
        `http://receiver.castforge.test:${receiver.port}/in/hook?token=abc`,
      );

      const record: DeliveryRecord = await deliveries.ended(deliveryId);
      expect(record.status).toBe('delivered');
      expect(receiver.requests).toHaveLength(1);
      const [req] = receiver.requests;
      expect(req!.url).toBe('/in/hook?token=abc');
      expect(req!.headers.host).toBe(`receiver.castforge.test:${receiver.port}`);
      expect(req!.headers['content-type']).toBe('application/json');
      expect(req!.body).toBe(bodyOf(record.jobId!));
      const [secret] = await deliveries.secrets.signingSecrets(TENANT);
      const expected = createHmac('sha256', secretKey(secret!))
        .update(
          `${String(req!.headers['webhook-id'])}.${String(req!.headers['webhook-timestamp'])}.${req!.body}`,
        )
        .digest('base64');
      expect(req!.headers['webhook-id']).toBe(record.webhookId);
      expect(req!.headers['webhook-signature']).toBe(`v1,${expected}`);
    } finally {
      await deliveries.close();
      await receiver.close();
    }
  });

  it('ends a delivery at once when the receiver answers 410 Gone, though attempts are left', async () => {
    const receiver = await startReceiver({ status: 410 });
    const deliveries = startDeliveries({ allowLoopback: true, delays: [0.05, 0.05, 0.05] });
    try {
      const deliveryId = await deliveries.submit(`http://127.0.0.1:${receiver.port}/gone`);
      const record = await deliveries.ended(deliveryId);
      expect(record.status).toBe('dead');
      expect(record.attempts).toEqual([expect.objectContaining({ status_code: 410 })]);
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await deliveries.close();
      await receiver.close();
    }
  });

  it('holds back a delivery while its host has the most attempts in flight, without counting that as an attempt', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const server = createServer((req, res) => {
      req.resume();
      if (req.url === '/first') void released.then(() => res.writeHead(200).end());
      else res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const deliveries = startDeliveries({ allowLoopback: true, delays: [0.05], perHostConcurrency: 1 });
    try {
      const first = await deliveries.submit(`http://127.0.0.1:${port}/first`);
      await waitFor(async () => (await deliveries.outbox.queue.getJobCounts('active')).active === 1, {
        what: 'the first attempt to be in flight',
      });
      const second = await deliveries.submit(`http://127.0.0.1:${port}/second`);
      await waitFor(async () => (await deliveries.outbox.queue.getJobCounts('delayed')).delayed === 1, {
        what: 'the second delivery to be held back',
      });
      expect((await deliveries.outbox.read(second))?.attempts).toEqual([]);
      release();

      expect((await deliveries.ended(first)).status).toBe('delivered');
      // Two real attempts (500, then 500 again after the retry delay): being held back used up none of them.
      const held = await deliveries.ended(second);
      expect(held.status).toBe('dead');
      expect(held.attempts.map((a) => a.status_code)).toEqual([500, 500]);
    } finally {
      await deliveries.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  /** The first attempt's log entry and the time planned for the next, against a receiver answering 503. */
  async function firstRetryPlan(retryAfter: () => string) {
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(503, { 'Retry-After': retryAfter() }).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const deliveries = startDeliveries({ allowLoopback: true, delays: [0.05] });
    try {
      const port = (server.address() as AddressInfo).port;
      const deliveryId = await deliveries.submit(`http://127.0.0.1:${port}/busy`);
      const record = await waitFor(
        async () => {
          const r = await deliveries.outbox.read(deliveryId);
          return r?.attempts.length === 1 && r.nextAttemptAt !== null ? r : null;
        },
        { what: 'the first attempt to be logged with its next attempt time' },
      );
      expect(record.status).toBe('pending');
      expect(record.attempts[0]).toMatchObject({ status_code: 503, error: expect.stringMatching(/503/) });
      return Date.parse(record.nextAttemptAt ?? '') - Date.parse(record.attempts[0]!.at);
    } finally {
      await deliveries.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }

  it("schedules the next attempt no sooner than the receiver's Retry-After in seconds", async () => {
    const waitMs = await firstRetryPlan(() => '30');
    expect(waitMs).toBeGreaterThanOrEqual(30_000);
    expect(waitMs).toBeLessThan(40_000);
  });

  it("schedules the next attempt no sooner than the receiver's Retry-After as an HTTP date", async () => {
    // RFC 9110 §10.2.3: Retry-After = HTTP-date / delay-seconds.
    const waitMs = await firstRetryPlan(() => new Date(Date.now() + 31_000).toUTCString());
    expect(waitMs).toBeGreaterThanOrEqual(29_000);
    expect(waitMs).toBeLessThan(40_000);
  });
});
