import { type ApiHarness, expectError, startApi } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import request from 'supertest';

const GENERATE = '/generate/image/v1';

describe('POST /generate/image/v1 past the per-tenant limit of jobs in flight', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('generation-inflight', { TENANT_MAX_JOBS_IN_FLIGHT: '2' });
  });
  afterAll(() => api.close());

  const submit = async (tenant: string, body: unknown, idempotencyKey?: string) => {
    const req = request(api.server)
      .post(GENERATE)
      .set('X-API-Key', await api.keyFor(tenant));
    if (idempotencyKey) void req.set('Idempotency-Key', idempotencyKey);
    return req.send(body as object);
  };

  it('answers 429 CONCURRENT_JOBS_EXCEEDED with Retry-After and records no job', async () => {
    const first = await submit('busy', { prompt: 'one' });
    const second = await submit('busy', { prompt: 'two' });
    expect([first.status, second.status]).toEqual([202, 202]);
    const refused = await submit('busy', { prompt: 'three' });
    const body = expectError(refused, 'CONCURRENT_JOBS_EXCEEDED');
    expect(body.message).toMatch(/2/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(String(await api.deps.jobs.inFlight('busy'))).toBe('2');
  });

  it("does not count one tenant's jobs against another", async () => {
    await submit('full', { prompt: 'one' });
    await submit('full', { prompt: 'two' });
    expectError(await submit('full', { prompt: 'three' }), 'CONCURRENT_JOBS_EXCEEDED');
    expect((await submit('empty', { prompt: 'one' })).status).toBe(202);
  });

  it('accepts a job again once one is cancelled or has ended', async () => {
    const a = await submit('frees', { prompt: 'one' });
    const b = await submit('frees', { prompt: 'two' });
    expectError(await submit('frees', { prompt: 'three' }), 'CONCURRENT_JOBS_EXCEEDED');

    const cancelled = await request(api.server)
      .post(`${GENERATE}/cancel/${a.body.job_id}`)
      .set('X-API-Key', await api.keyFor('frees'));
    expect(cancelled.status).toBe(202);
    const c = await submit('frees', { prompt: 'three' });
    expect(c.status).toBe(202);
    expectError(await submit('frees', { prompt: 'four' }), 'CONCURRENT_JOBS_EXCEEDED');

    await api.deps.jobs.start({ jobId: b.body.job_id, tenantId: 'frees' }, { prompt: 'two', seed: 1 });
    await api.deps.jobs.finish({ jobId: b.body.job_id, tenantId: 'frees' }, 'completed', {});
    expect((await submit('frees', { prompt: 'four' })).status).toBe(202);
  });

  it('does not burn an Idempotency-Key on a 429', async () => {
    await submit('idem-429', { prompt: 'one' });
    const b = await submit('idem-429', { prompt: 'two' });
    expectError(await submit('idem-429', { prompt: 'three' }, 'retry-me'), 'CONCURRENT_JOBS_EXCEEDED');
    await request(api.server)
      .post(`${GENERATE}/cancel/${b.body.job_id}`)
      .set('X-API-Key', await api.keyFor('idem-429'));
    const retried = await submit('idem-429', { prompt: 'three' }, 'retry-me');
    expect(retried.status).toBe(202);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
  });
});

describe('requests past the write budget (RATE_LIMIT_WRITES)', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('generation-rate', {
      RATE_LIMIT_WRITES: '2',
      RATE_LIMIT_WRITES_WINDOW_SECONDS: '1',
      // The harness turns the per-key budgets off; reads get one here, far above these bursts.
      RATE_LIMIT_READS: '100',
    });
  });
  afterAll(() => api.close());

  const burst = async (tenant: string, count: number) => {
    const key = await api.keyFor(tenant);
    return Promise.all(
      Array.from({ length: count }, (_, i) =>
        request(api.server)
          .post(GENERATE)
          .set('X-API-Key', key)
          .send({ prompt: `burst ${i}` }),
      ),
    );
  };

  it('answers 429 RATE_LIMIT_EXCEEDED with Retry-After once a key passes its requests per second', async () => {
    const responses = await burst('chatty', 12);
    const accepted = responses.filter((res) => res.status === 202);
    const limited = responses.filter((res) => res.status === 429);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    // 2 at once, plus what refills (2 per second) while a busy machine answers the burst.
    expect(accepted.length).toBeLessThanOrEqual(6);
    expect(accepted.length + limited.length).toBe(12);
    for (const res of limited) {
      expectError(res, 'RATE_LIMIT_EXCEEDED');
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // Refused requests create no job.
    expect(Number(String(await api.deps.jobs.inFlight('chatty')))).toBe(accepted.length);
  });

  it("does not limit another key because of one key's burst", async () => {
    await burst('noisy', 8);
    const key = await api.keyFor('quiet');
    const res = await request(api.server).post(GENERATE).set('X-API-Key', key).send({ prompt: 'hello' });
    expect(res.status).toBe(202);
  });

  it('accepts requests again within a few seconds', async () => {
    await burst('recovers', 6);
    const key = await api.keyFor('recovers');
    const res = await waitFor(
      async () => {
        const attempt = await request(api.server)
          .post(GENERATE)
          .set('X-API-Key', key)
          .send({ prompt: 'later' });
        return attempt.status === 202 && attempt;
      },
      { timeoutMs: 5000, intervalMs: 600, what: 'a request past the rate limit to be accepted again' },
    );
    expect(res.body.status).toBe('queued');
  });

  it('counts status polls against their own budget, not the write budget (SPEC §1)', async () => {
    const key = await api.keyFor('poller');
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        request(api.server).get(`${GENERATE}/status/job_0000000000000000`).set('X-API-Key', key),
      ),
    );
    // Far more polls than writes are allowed here, and not one is refused: reads have a budget of their own.
    expect(responses.map((res) => res.status)).toEqual(Array.from({ length: 8 }, () => 404));
    expect(responses[0]!.headers['ratelimit-policy']).toMatch(/"reads"/);
  });
});
