import { type TestServices, openServices } from '@castforge/testkit';
import { type JobStoreKit, STORE_RETENTION_SECONDS, jobStoreKit } from '@castforge/testkit/job-store';
import { AppError } from '../errors';
import { newJobId } from '../ids';
import { type JobRef } from './job-store';
import { laneFor } from './keys';

/**
 * The single job's status record through every script (CREATE, READ, START, PROGRESS, RETRY, FINISH) against
 * the real Redis, with BullMQ's add in the same MULTI as the API's producer does it. Campaign jobs are in
 * job-store.campaigns.test.ts.
 */
describe('the job store: single jobs', () => {
  let services: TestServices;
  let kit: JobStoreKit;
  beforeAll(async () => {
    services = await openServices('job-store');
    kit = jobStoreKit(services.redis, services.prefix);
  });
  afterAll(async () => {
    await kit.close();
    await services.close();
  });

  const b = (tenantId: string) => kit.keys.forTenant(tenantId);
  const ref = (tenantId: string, jobId: string): JobRef => ({ jobId, tenantId });
  const read = async (tenantId: string, jobId: string) => {
    const record = await kit.store.read(tenantId, jobId);
    if (!record) throw new Error(`job ${jobId} of ${tenantId} not found`);
    return record;
  };
  const bullJob = (tenantId: string, jobId: string, priority = 0) =>
    services.redis.hgetall(b(tenantId).bullJob(laneFor(tenantId, priority), jobId));
  const waitList = (tenantId: string, priority = 0) =>
    services.redis.lrange(b(tenantId).bull(laneFor(tenantId, priority)).wait, 0, -1);
  const outbox = async (tenantId: string) =>
    (await services.redis.xrange(b(tenantId).outbox, '-', '+')).map(([, fields]) => {
      const map: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
      return map;
    });
  const start = (tenantId: string, jobId: string, seed = 7, prompt = 'a lighthouse at dusk') =>
    kit.store.start(ref(tenantId, jobId), { prompt, seed });

  describe('CREATE', () => {
    it('records a queued job and adds its BullMQ job in the same transaction, counting it everywhere', async () => {
      const tenant = 'create-a';
      const before = Date.now();
      const { jobId, ahead } = await kit.submit(tenant, { fields: { metadata: '{"shot":1}' } });
      expect(ahead).toBe(0);
      expect(await read(tenant, jobId)).toMatchObject({
        jobId,
        tenantId: tenant,
        status: 'queued',
        progress: 0,
        attempts: 0,
        operation: 'generate',
        metadata: { shot: 1 },
        lane: laneFor(tenant, 0),
        ahead: 0,
        startedAt: null,
        finishedAt: null,
        error: null,
      });
      expect((await read(tenant, jobId)).queuedAt).toBeGreaterThanOrEqual(before);
      expect(await waitList(tenant)).toEqual([jobId]);
      expect(JSON.parse((await bullJob(tenant, jobId)).data!)).toMatchObject({ kind: 'single' });
      expect(await kit.store.inFlight(tenant)).toBe(1);
      expect(await services.redis.hget(b(tenant).stats, 'queued')).toBe('1');
      expect(await services.redis.zscore(b(tenant).ready, laneFor(tenant, 0))).not.toBeNull();
    });

    it('gives each queued job its position: FIFO in a lane, the priority lane ahead of the normal one', async () => {
      const tenant = 'create-order';
      const normal = [await kit.submit(tenant), await kit.submit(tenant), await kit.submit(tenant)];
      expect(normal.map((j) => j.ahead)).toEqual([0, 1, 2]);
      const urgent = await kit.submit(tenant, { priority: 9 });
      const lessUrgent = await kit.submit(tenant, { priority: 2 });
      const moreUrgent = await kit.submit(tenant, { priority: 10 });
      // Within the priority lane, higher priority first; every normal job now has all three ahead of it.
      expect((await read(tenant, moreUrgent.jobId)).ahead).toBe(0);
      expect((await read(tenant, urgent.jobId)).ahead).toBe(1);
      expect((await read(tenant, lessUrgent.jobId)).ahead).toBe(2);
      expect(await Promise.all(normal.map(async (j) => (await read(tenant, j.jobId)).ahead))).toEqual([
        3, 4, 5,
      ]);
      // A job that starts leaves the queue: those behind it move up.
      await start(tenant, normal[0]!.jobId);
      expect((await read(tenant, normal[0]!.jobId)).ahead).toBeNull();
      expect((await read(tenant, normal[2]!.jobId)).ahead).toBe(4);
    });

    it('when the tenant is at its in-flight limit, is refused and leaves neither a record nor a BullMQ job', async () => {
      const tenant = 'create-limit';
      await kit.submit(tenant, { maxInFlight: 2 });
      await kit.submit(tenant, { maxInFlight: 2 });
      const jobId = newJobId();
      const queuedBefore = await services.redis.hget(b(tenant).stats, 'queued');
      const refused = await kit.submit(tenant, { jobId, maxInFlight: 2 }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(AppError);
      expect((refused as AppError).code).toBe('CONCURRENT_JOBS_EXCEEDED');
      expect(await kit.store.read(tenant, jobId)).toBeNull();
      expect(await services.redis.exists(b(tenant).job(jobId))).toBe(0);
      expect(await waitList(tenant)).not.toContain(jobId);
      // No job under that id in BullMQ: nothing a worker could ever fetch.
      expect(await bullJob(tenant, jobId)).not.toHaveProperty('data');
      expect(await kit.store.inFlight(tenant)).toBe(2);
      expect(await services.redis.hget(b(tenant).stats, 'queued')).toBe(queuedBefore);

      // The same MULTI re-sent after its reply was lost (ioredis re-sends unanswered commands): refused again,
      // never a CONFLICT that the producer would take for its own accepted job (a 202 for a job that is not).
      const resent = await kit.submit(tenant, { jobId, maxInFlight: 2 }).catch((err: unknown) => err);
      expect((resent as AppError).code).toBe('CONCURRENT_JOBS_EXCEEDED');
      expect(await kit.store.read(tenant, jobId)).toBeNull();
    });

    it('of an id that already exists, is refused and leaves the existing job whole (its BullMQ job never expires)', async () => {
      // What a client library resending a MULTI whose reply was lost does (ioredis re-sends unanswered commands
      // after a reconnect): the job it created must not be damaged by the second, refused CREATE.
      const tenant = 'create-twice';
      const { jobId } = await kit.submit(tenant);
      const first = await bullJob(tenant, jobId);
      const again = await kit.submit(tenant, { jobId }).catch((err: unknown) => err);
      expect((again as AppError).code).toBe('CONFLICT');
      expect(await bullJob(tenant, jobId)).toEqual(first);
      expect(await services.redis.pttl(b(tenant).bullJob(laneFor(tenant, 0), jobId))).toBe(-1);
      expect(await waitList(tenant)).toEqual([jobId]);
      expect(await kit.store.inFlight(tenant)).toBe(1);
    });
  });

  describe('READ', () => {
    it("answers null for an unknown id and for another tenant's job, whichever bucket that tenant is in", async () => {
      const owner = 'read-owner';
      const { jobId } = await kit.submit(owner);
      expect(await kit.store.read(owner, newJobId())).toBeNull();
      // A tenant of the same bucket (same keys, same slot), and one of another bucket.
      let sameBucket = '';
      let otherBucket = '';
      for (let i = 0; !sameBucket || !otherBucket; i++) {
        const candidate = `read-other-${i}`;
        if (b(candidate).bucket === b(owner).bucket) sameBucket ||= candidate;
        else otherBucket ||= candidate;
      }
      expect(await kit.store.read(sameBucket, jobId)).toBeNull();
      expect(await kit.store.read(otherBucket, jobId)).toBeNull();
      expect(await kit.store.readMany(sameBucket, [jobId])).toEqual([null]);
      expect((await kit.store.cancel(sameBucket, jobId)).changed).toBe(false);
      expect((await read(owner, jobId)).status).toBe('queued');
    });
  });

  describe('START, PROGRESS, RETRY', () => {
    it('START moves a queued job to processing and keeps the seed and prompt of its first attempt', async () => {
      const tenant = 'start';
      const { jobId } = await kit.submit(tenant);
      expect(await start(tenant, jobId, 42, 'first prompt')).toEqual({
        kind: 'started',
        attempts: 1,
        seed: 42,
        prompt: 'first prompt',
      });
      const running = await read(tenant, jobId);
      expect(running).toMatchObject({ status: 'processing', attempts: 1, seed: 42, prompt: 'first prompt' });
      expect(running.startedAt).not.toBeNull();
      // Processing is counted as the running set less the pending jobs, not by a counter of its own.
      expect(await services.redis.hget(b(tenant).stats, 'processing')).toBeNull();
      expect(await services.redis.zscore(b(tenant).running, jobId)).not.toBeNull();

      // A retryable failure: pending, the failure shown; the next attempt runs with the same seed and prompt.
      expect(await kit.store.retry(ref(tenant, jobId), { error: 'GPU fell over', code: 'MODEL_ERROR' })).toBe(
        true,
      );
      expect(await read(tenant, jobId)).toMatchObject({
        status: 'pending',
        error: 'GPU fell over',
        failureReasonCode: 'MODEL_ERROR',
        retryable: true,
      });
      expect(await services.redis.hget(b(tenant).stats, 'pending')).toBe('1');
      expect(await start(tenant, jobId, 99, 'another prompt')).toEqual({
        kind: 'started',
        attempts: 2,
        seed: 42,
        prompt: 'first prompt',
      });
      expect((await read(tenant, jobId)).startedAt).toBe(running.startedAt);
    });

    it('RETRY moves only a processing job, and START of an unknown single job finds it missing', async () => {
      const tenant = 'retry-only';
      const { jobId } = await kit.submit(tenant);
      expect(await kit.store.retry(ref(tenant, jobId))).toBe(false);
      expect((await read(tenant, jobId)).status).toBe('queued');
      expect(await start(tenant, newJobId())).toEqual({ kind: 'missing' });
    });

    it('PROGRESS only moves forward, only while processing, and never reads 100 before the job completes', async () => {
      const tenant = 'progress';
      const { jobId } = await kit.submit(tenant);
      await kit.store.progress(ref(tenant, jobId), 30);
      expect((await read(tenant, jobId)).progress).toBe(0);
      await start(tenant, jobId);
      await kit.store.progress(ref(tenant, jobId), 30);
      await kit.store.progress(ref(tenant, jobId), 20);
      expect((await read(tenant, jobId)).progress).toBe(30);
      await kit.store.progress(ref(tenant, jobId), 100);
      expect((await read(tenant, jobId)).progress).toBe(99);
      await kit.store.finish(ref(tenant, jobId), 'failed', {
        error: 'no',
        failure_reason_code: 'MODEL_ERROR',
      });
      await kit.store.progress(ref(tenant, jobId), 99.5);
      expect(await read(tenant, jobId)).toMatchObject({ status: 'failed', progress: 99 });
    });
  });

  describe('FINISH', () => {
    it('ends a job once: counters back, request data gone, record kept for the retention, one outbox entry', async () => {
      const tenant = 'finish';
      const { jobId } = await kit.submit(tenant, {
        fields: { callback_url: 'v1.sealed-url', inputs: 'v1.sealed-inputs' },
      });
      await start(tenant, jobId);
      const ended = await kit.store.finish(
        ref(tenant, jobId),
        'completed',
        {
          inference_ms: 1200,
          result_key: `${jobId}.png`,
          result_mime_type: 'image/png',
          result_size_bytes: 10,
        },
        { result: { key: `${jobId}.png`, expiresAt: 12345 }, sample: { ms: 1200, units: 2 } },
      );
      expect(ended).toEqual({ changed: true, previous: 'processing', campaignDone: false });
      expect(await read(tenant, jobId)).toMatchObject({
        status: 'completed',
        progress: 100,
        inferenceMs: 1200,
        resultKey: `${jobId}.png`,
        resultSizeBytes: 10,
      });
      const raw = await services.redis.hgetall(b(tenant).job(jobId));
      expect(raw).not.toHaveProperty('callback_url');
      expect(raw).not.toHaveProperty('inputs');
      expect(raw).not.toHaveProperty('worker');
      const ttl = await services.redis.ttl(b(tenant).job(jobId));
      expect(ttl).toBeGreaterThan(STORE_RETENTION_SECONDS - 60);
      expect(ttl).toBeLessThanOrEqual(STORE_RETENTION_SECONDS);
      expect(await kit.store.inFlight(tenant)).toBe(0);
      expect(await services.redis.hexists(b(tenant).inflight, tenant)).toBe(0);
      expect(await services.redis.zscore(b(tenant).running, jobId)).toBeNull();
      expect(await services.redis.zscore(b(tenant).results, `${jobId}.png`)).toBe('12345');
      expect(await services.redis.lrange(b(tenant).durations, 0, -1)).toContain('1200:2.0000');
      // The webhook event, recorded in the same step, carrying the sealed URL the record no longer has.
      expect((await outbox(tenant)).filter((e) => e.id === jobId)).toEqual([
        { k: 'j', id: jobId, ev: 'completed', t: tenant, u: 'v1.sealed-url' },
      ]);

      // A second ending (a late worker, a cancel) changes nothing and records nothing.
      expect(await kit.store.cancel(tenant, jobId)).toEqual({
        changed: false,
        previous: 'completed',
        campaignDone: false,
      });
      expect(
        await kit.store.finish(ref(tenant, jobId), 'failed', {
          error: 'late',
          failure_reason_code: 'TIMEOUT',
        }),
      ).toMatchObject({ changed: false, previous: 'completed' });
      expect(await read(tenant, jobId)).toMatchObject({ status: 'completed', error: null });
      expect((await outbox(tenant)).filter((e) => e.id === jobId)).toHaveLength(1);
      expect(await kit.store.inFlight(tenant)).toBe(0);
    });

    it('records no outbox entry for a job without a callback', async () => {
      const tenant = 'finish-quiet';
      const { jobId } = await kit.submit(tenant);
      await start(tenant, jobId);
      await kit.store.finish(ref(tenant, jobId), 'completed', {});
      expect(await outbox(tenant)).toEqual([]);
    });

    it('cancels a queued job at once: out of the queue, its BullMQ request dropped (zero retention)', async () => {
      const tenant = 'cancel-queued';
      const first = await kit.submit(tenant);
      const second = await kit.submit(tenant);
      expect(await kit.store.cancel(tenant, first.jobId)).toEqual({
        changed: true,
        previous: 'queued',
        campaignDone: false,
      });
      expect(await read(tenant, first.jobId)).toMatchObject({
        status: 'cancelled',
        failureReasonCode: 'CANCELLED',
        retryable: false,
        ahead: null,
      });
      expect((await read(tenant, second.jobId)).ahead).toBe(0);
      expect(JSON.parse((await bullJob(tenant, first.jobId)).data!)).toEqual({ kind: 'cancelled' });
      expect(await kit.store.inFlight(tenant)).toBe(1);
      expect(await start(tenant, first.jobId)).toEqual({ kind: 'terminal', status: 'cancelled' });
    });

    it("drops the BullMQ request of a cancelled priority job too (it waits in the tenant's .hi lane)", async () => {
      const tenant = 'cancel-queued-hi';
      const { jobId } = await kit.submit(tenant, { priority: 7 });
      expect(JSON.parse((await bullJob(tenant, jobId, 7)).data!)).toMatchObject({ kind: 'single' });
      expect((await kit.store.cancel(tenant, jobId)).changed).toBe(true);
      expect(JSON.parse((await bullJob(tenant, jobId, 7)).data!)).toEqual({ kind: 'cancelled' });
      // Nothing was written under the normal lane's key for it.
      expect(await bullJob(tenant, jobId)).toEqual({});
    });

    it('cancels a processing job and tells the worker holding it on the cancel channel', async () => {
      const tenant = 'cancel-running';
      const { jobId } = await kit.submit(tenant);
      await start(tenant, jobId);
      const listener = services.redis.duplicate({ enableOfflineQueue: true });
      const heard: string[] = [];
      try {
        await listener.subscribe(kit.keys.cancelChannel);
        listener.on('message', (_channel, message: string) => heard.push(message));
        expect((await kit.store.cancel(tenant, jobId)).previous).toBe('processing');
        const deadline = Date.now() + 5000;
        while (!heard.includes(jobId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect(heard).toContain(jobId);
      } finally {
        listener.disconnect();
      }
    });

    it('ends a job for the reconciler only when its BullMQ job is gone (onlyIfGoneFrom)', async () => {
      const tenant = 'reconcile';
      const { jobId } = await kit.submit(tenant);
      await start(tenant, jobId);
      const lost = { error: 'lost', failure_reason_code: 'INTERNAL_ERROR' as const, retryable: true };
      const lane = laneFor(tenant, 0);
      expect(
        await kit.store.finish(ref(tenant, jobId), 'failed', lost, { onlyIfGoneFrom: lane }),
      ).toMatchObject({ changed: false, previous: 'processing' });
      await services.redis.del(b(tenant).bullJob(lane, jobId));
      expect(
        await kit.store.finish(ref(tenant, jobId), 'failed', lost, { onlyIfGoneFrom: lane }),
      ).toMatchObject({ changed: true, previous: 'processing' });
      expect(await read(tenant, jobId)).toMatchObject({
        status: 'failed',
        failureReasonCode: 'INTERNAL_ERROR',
      });
    });

    it('keeps the per-bucket state counts in step with the records', async () => {
      const tenant = 'counts';
      const before = await kit.store.stateCounts();
      const a = await kit.submit(tenant);
      const c = await kit.submit(tenant);
      await kit.submit(tenant);
      await start(tenant, a.jobId);
      await start(tenant, c.jobId);
      await kit.store.retry(ref(tenant, c.jobId));
      const during = await kit.store.stateCounts();
      expect({
        queued: during.queued - before.queued,
        processing: during.processing - before.processing,
        pending: during.pending - before.pending,
      }).toEqual({ queued: 1, processing: 1, pending: 1 });
      expect(await kit.store.inFlight(tenant)).toBe(3);
    });
  });
});
