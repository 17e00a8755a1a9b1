/**
 * A receiver that never answers (issue #4): tenant A's callback accepts the connection and never responds,
 * tenant B's answers at once. B's jobs complete and B's webhooks arrive while A's deliveries are still hanging
 * and failing, and A's own jobs complete regardless: generation never waits on a delivery.
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import { type WebhookReceiver, startReceiver } from '@castforge/testkit/webhook-receiver';
import { type Delivery, type JobStatus } from '@castforge/schemas';
import request from 'supertest';

const LOOPBACK = { CALLBACK_ALLOW_LOOPBACK: 'true' };
const TIMEOUT_MS = 2000;
/**
 * A webhook that queued behind a hanging attempt would wait for its timeout; one that did not arrives in tens of
 * milliseconds. Half the timeout tells the two apart without asserting a tight time.
 */
const PROMPTLY_MS = TIMEOUT_MS / 2;

function harness(name: string, workerEnv: Record<string, string>) {
  const h = {} as {
    api: ApiHarness;
    worker: WorkerHarness;
    receivers: WebhookReceiver[];
  };
  beforeAll(async () => {
    h.api = await startApi(name, LOOPBACK);
    h.worker = await startWorker(h.api.services, { ...LOOPBACK, ...workerEnv });
    h.receivers = [];
  });
  afterAll(async () => {
    // Closing the receivers first ends the hanging attempts, so the worker closes at once.
    await Promise.all(h.receivers.map((r) => r.close()));
    await h.worker.close();
    await h.api.close();
  });

  const tenant = async (id: string) => {
    const key = await h.api.keyFor(id);
    const submit = async (callbackUrl: string) => {
      const res = await request(h.api.server)
        .post('/generate/image/v1')
        .set('X-API-Key', key)
        .send({
          prompt: `${id} scene`,
          width: 64,
          height: 64,
          num_inference_steps: 1,
          callback_url: callbackUrl,
        });
      expect(res.status).toBe(202);
      return res.body.job_id as string;
    };
    const status = async (jobId: string) =>
      (await request(h.api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key))
        .body as JobStatus;
    const deliveries = async (jobIds: string[]) =>
      (
        await Promise.all(
          jobIds.map(
            async (jobId) =>
              (
                (
                  await request(h.api.server)
                    .get(`/webhooks/v1/deliveries?job_id=${jobId}`)
                    .set('X-API-Key', key)
                ).body as { deliveries: Delivery[] }
              ).deliveries,
          ),
        )
      ).flat();
    return { submit, status, deliveries };
  };
  const receiver = async (...args: Parameters<typeof startReceiver>) => {
    const r = await startReceiver(...args);
    h.receivers.push(r);
    return r;
  };
  return { h, tenant, receiver };
}

/** Waits for one webhook per job at the receiver and returns when each arrived. */
const arrivals = (receiver: WebhookReceiver, jobIds: string[]) =>
  waitFor(
    () => {
      const at = jobIds.map((id) => receiver.received.find((r) => r.body.includes(`"job_id":"${id}"`))?.at);
      return at.every((t) => t !== undefined) ? at.map(Number) : null;
    },
    { timeoutMs: 10_000, what: `webhooks for ${jobIds.length} jobs` },
  );

describe('a receiver that accepts connections and never answers', () => {
  const { tenant, receiver } = harness('story-webhook-isolation', {
    WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
    WEBHOOK_RETRY_DELAYS: '0.2,0.2,0.2,0.2',
  });

  it("delays neither another tenant's jobs nor their webhooks, nor its own tenant's jobs", async () => {
    const a = await tenant('hanging-a');
    const b = await tenant('prompt-b');
    const silent = await receiver(() => 'hang');
    /** How many of A's requests were hanging when each of B's webhooks arrived. */
    const hangingWhenBArrived: number[] = [];
    const fast = await receiver(() => {
      hangingWhenBArrived.push(silent.open());
      return { status: 204 };
    });

    // More of A's events than one host may have in flight (WEBHOOK_PER_HOST_CONCURRENCY, 8 by default).
    const aJobs: string[] = [];
    for (let i = 0; i < 12; i++) aJobs.push(await a.submit(silent.url(`/never?i=${i}`)));
    await waitFor(() => silent.open() >= 8, { what: "A's receiver to be holding 8 requests" });

    const bJobs = [];
    for (let i = 0; i < 4; i++) bJobs.push(await b.submit(fast.url('/hooks')));
    const arrived = await arrivals(fast, bJobs);
    const bFinished = await Promise.all(
      bJobs.map(async (id) => Date.parse((await b.status(id)).finished_at!)),
    );
    // Far less than one of A's timeouts: B's events did not queue behind A's hanging attempts.
    arrived.forEach((at, i) => expect(at - bFinished[i]!).toBeLessThan(PROMPTLY_MS));
    expect(Math.min(...hangingWhenBArrived)).toBeGreaterThan(0);

    // A's jobs completed all the same; their deliveries are stuck, none delivered.
    const aStatuses = await Promise.all(aJobs.map((id) => a.status(id)));
    expect(aStatuses.map((s) => s.status)).toEqual(aJobs.map(() => 'completed'));
    const aDeliveries = await a.deliveries(aJobs);
    expect(aDeliveries).toHaveLength(aJobs.length);
    expect(aDeliveries.every((d) => d.status === 'pending')).toBe(true);

    // Later, while A's attempts are timing out and being retried, B is still served at once.
    await waitFor(
      async () =>
        (await a.deliveries(aJobs)).some((d) =>
          d.attempts.some((t) => /no answer within/.test(t.error ?? '')),
        ),
      { timeoutMs: 10_000, what: 'one of A’s attempts to time out' },
    );
    const more = [];
    for (let i = 0; i < 4; i++) more.push(await b.submit(fast.url('/hooks')));
    const arrivedLater = await arrivals(fast, more);
    const moreFinished = await Promise.all(
      more.map(async (id) => Date.parse((await b.status(id)).finished_at!)),
    );
    arrivedLater.forEach((at, i) => expect(at - moreFinished[i]!).toBeLessThan(PROMPTLY_MS));
    const aNow = await a.deliveries(aJobs);
    expect(aNow.filter((d) => d.status === 'delivered')).toEqual([]);
    expect(aNow.some((d) => d.status === 'pending' && d.attempts.some((t) => t.status_code === null))).toBe(
      true,
    );
    expect((await b.deliveries([...bJobs, ...more])).map((d) => d.status)).toEqual(
      [...bJobs, ...more].map(() => 'delivered'),
    );
  });
});

describe('hanging receivers of one tenant on several hosts', () => {
  // Scaled down: 4 delivery slots, at most 3 for one tenant; tenant A's receivers hang on 3 ports. In
  // production terms: one tenant's dead receivers can hold WEBHOOK_PER_TENANT_CONCURRENCY (16) of the
  // WEBHOOK_CONCURRENCY (50) slots, never all of them.
  const LONG_TIMEOUT_MS = 5000;
  const { tenant, receiver } = harness('story-webhook-isolation-hosts', {
    WEBHOOK_TIMEOUT_MS: String(LONG_TIMEOUT_MS),
    WEBHOOK_RETRY_DELAYS: '0.2,0.2,0.2,0.2',
    WEBHOOK_CONCURRENCY: '4',
    WEBHOOK_PER_HOST_CONCURRENCY: '4',
    WEBHOOK_PER_TENANT_CONCURRENCY: '3',
  });

  it("do not take every delivery slot: another tenant's webhook still arrives before their attempts time out", async () => {
    const a = await tenant('many-hosts-a');
    const b = await tenant('bystander-b');
    const silent = [await receiver(() => 'hang'), await receiver(() => 'hang'), await receiver(() => 'hang')];
    const fast = await receiver();

    for (const r of silent) for (let i = 0; i < 2; i++) await a.submit(r.url('/never'));
    await waitFor(() => silent.reduce((n, r) => n + r.open(), 0) >= 3, {
      what: "A's receivers to be holding 3 requests",
    });
    const bJob = await b.submit(fast.url('/hooks'));
    const [arrived] = await arrivals(fast, [bJob]);
    const finished = Date.parse((await b.status(bJob)).finished_at!);
    expect(arrived! - finished).toBeLessThan(LONG_TIMEOUT_MS / 2);
  });
});
