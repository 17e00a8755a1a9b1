import { scanKeys, sha256Hex } from '@castforge/core';
import { type ApiHarness, expectError, startApi } from '@castforge/testkit';
import { Queue } from 'bullmq';
import request from 'supertest';

const GENERATE = '/generate/image/v1';

describe('POST /generate/image/v1 with an Idempotency-Key', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('generation-idempotency');
  });
  afterAll(() => api.close());

  const submit = async (tenant: string, body: unknown, idempotencyKey?: string) => {
    const req = request(api.server)
      .post(GENERATE)
      .set('X-API-Key', await api.keyFor(tenant));
    if (idempotencyKey !== undefined) void req.set('Idempotency-Key', idempotencyKey);
    return req.send(body as object);
  };

  /** Status records of the tenant's jobs not yet ended (every job here stays queued). */
  const recordsInFlight = async (tenant: string) => await api.deps.jobs.inFlight(tenant);

  /** Status records that exist for the tenant, counted by scanning this file's keys. */
  const statusRecords = async (tenant: string) => {
    let count = 0;
    for (const key of await scanKeys(api.services.redis, `${api.deps.jobs.keys.prefix}:*:job:*`)) {
      if ((await api.services.redis.hget(key, 'tenant')) === tenant) count++;
    }
    return count;
  };

  /** Jobs BullMQ holds in the tenant's normal lane. */
  const bullJobs = async (tenant: string) => {
    const queue = new Queue(`gen.${tenant}`, {
      connection: api.services.redis,
      prefix: api.deps.jobs.keys.forTenant(tenant).bullPrefix,
    });
    try {
      return (await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active'])).length;
    } finally {
      await queue.close();
    }
  };

  it('answers the same key and body with the first response and creates one job', async () => {
    const body = { prompt: 'a lighthouse', width: 512, height: 512 };
    const first = await submit('same', body, 'order-1');
    const second = await submit('same', body, 'order-1');
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(await recordsInFlight('same')).toBe(1);
    expect(await statusRecords('same')).toBe(1);
    expect(await bullJobs('same')).toBe(1);
  });

  it('treats the same fields in another order as the same body', async () => {
    const first = await submit('order', { prompt: 'a fox', width: 512, metadata: { a: 1, b: 2 } }, 'k');
    const second = await submit('order', { metadata: { b: 2, a: 1 }, width: 512, prompt: 'a fox' }, 'k');
    expect(second.status).toBe(202);
    expect(second.body.job_id).toBe(first.body.job_id);
    expect(await recordsInFlight('order')).toBe(1);
  });

  it('answers the same key with a different body with 409 and creates no second job', async () => {
    const first = await submit('conflict', { prompt: 'a fox' }, 'order-2');
    expect(first.status).toBe(202);
    const body = expectError(await submit('conflict', { prompt: 'a wolf' }, 'order-2'), 'CONFLICT');
    expect(body.message).toMatch(/Idempotency-Key/);
    expectError(await submit('conflict', { prompt: 'a fox', seed: 1 }, 'order-2'), 'CONFLICT');
    expect(await recordsInFlight('conflict')).toBe(1);
    expect(await bullJobs('conflict')).toBe(1);
    // The key still answers its own body with the first response.
    expect((await submit('conflict', { prompt: 'a fox' }, 'order-2')).body).toEqual(first.body);
  });

  it('of 100 concurrent identical requests, creates exactly one job and answers all with it', async () => {
    const key = await api.keyFor('burst');
    const body = { prompt: 'a hundred at once', width: 256, height: 256 };
    const responses = await Promise.all(
      Array.from({ length: 100 }, () =>
        request(api.server).post(GENERATE).set('X-API-Key', key).set('Idempotency-Key', 'burst-1').send(body),
      ),
    );
    expect(responses.map((res) => res.status)).toEqual(Array(100).fill(202));
    const ids = new Set(responses.map((res) => res.body.job_id as string));
    expect(ids.size).toBe(1);
    expect(responses.filter((res) => res.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);
    expect(await recordsInFlight('burst')).toBe(1);
    expect(await statusRecords('burst')).toBe(1);
    expect(await bullJobs('burst')).toBe(1);
  });

  it('keeps keys per tenant: two tenants with the same key each get their own job', async () => {
    const body = { prompt: 'a shared key' };
    const a = await submit('tenant-a', body, 'shared-key');
    const b = await submit('tenant-b', body, 'shared-key');
    const c = await submit('tenant-b', { prompt: 'another body' }, 'shared-key');
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.job_id).not.toBe(b.body.job_id);
    expectError(c, 'CONFLICT');
    expect(await recordsInFlight('tenant-a')).toBe(1);
    expect(await recordsInFlight('tenant-b')).toBe(1);
    const statusOfB = await request(api.server)
      .get(`${GENERATE}/status/${b.body.job_id}`)
      .set('X-API-Key', await api.keyFor('tenant-b'));
    expect(statusOfB.status).toBe(200);
  });

  it('does not burn the key on a failed (422) first request', async () => {
    expectError(
      await submit('retry-after-422', { prompt: 'a fox', width: 10 }, 'order-3'),
      'INVALID_PARAMETERS',
    );
    expect(await recordsInFlight('retry-after-422')).toBe(0);
    const fixed = await submit('retry-after-422', { prompt: 'a fox', width: 512 }, 'order-3');
    expect(fixed.status).toBe(202);
    expect(fixed.headers['idempotent-replayed']).toBeUndefined();
    expect(await recordsInFlight('retry-after-422')).toBe(1);
  });

  it('does not burn the key when the first request names a profile that does not exist', async () => {
    const missing = { prompt: 'a fox', profile_id: 'prof_0000000000000000' };
    expectError(await submit('retry-after-profile', missing, 'order-4'), 'INPUT_INVALID');
    expect((await submit('retry-after-profile', { prompt: 'a fox' }, 'order-4')).status).toBe(202);
  });

  it('creates a job per request without a key', async () => {
    const body = { prompt: 'no key' };
    const first = await submit('no-key', body);
    const second = await submit('no-key', body);
    expect(first.body.job_id).not.toBe(second.body.job_id);
    expect(await recordsInFlight('no-key')).toBe(2);
  });

  it('accepts a key of 255 characters and refuses one of 256 with 422 naming the header', async () => {
    expect((await submit('key-length', { prompt: 'a' }, 'k'.repeat(255))).status).toBe(202);
    const body = expectError(
      await submit('key-length', { prompt: 'b' }, 'k'.repeat(256)),
      'INVALID_PARAMETERS',
    );
    expect(body.detail.map((d) => d.loc.join('.'))).toEqual(['header.Idempotency-Key']);
    expect(await recordsInFlight('key-length')).toBe(1);
  });

  it('creates a new job once the stored answer is gone (after its 24 h)', async () => {
    const first = await submit('expired-key', { prompt: 'a fox' }, 'order-5');
    const stored = api.deps.jobs.keys.idempotency('expired-key', sha256Hex('order-5'));
    const ttl = await api.services.redis.ttl(stored);
    expect(ttl).toBeGreaterThan(24 * 3600 - 60);
    expect(ttl).toBeLessThanOrEqual(24 * 3600);
    await api.services.redis.del(stored);
    const second = await submit('expired-key', { prompt: 'a fox' }, 'order-5');
    expect(second.status).toBe(202);
    expect(second.body.job_id).not.toBe(first.body.job_id);
  });
});
