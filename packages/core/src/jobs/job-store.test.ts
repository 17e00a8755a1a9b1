import { type TestServices, openServices } from '@castforge/testkit';
import { AppError } from '../errors';
import { newJobId } from '../ids';
import { type JobStore, createJobStore } from './job-store';
import { laneFor, redisKeys } from './keys';

const RETENTION_SECONDS = 600;

describe('the job status record (job store)', () => {
  let services: TestServices;
  let store: JobStore;
  beforeAll(async () => {
    services = await openServices('job-store');
    store = createJobStore({
      redis: services.redis,
      keys: redisKeys(services.prefix),
      retentionSeconds: RETENTION_SECONDS,
    });
  });
  afterAll(() => services.close());

  /** Records a queued job of the tenant (normal lane unless `priority` > 0) and returns its id. */
  const queue = async (tenantId: string, options: { priority?: number; maxInFlight?: number } = {}) => {
    const jobId = newJobId();
    await store.create(
      { jobId, tenantId, lane: laneFor(tenantId, options.priority ?? 0), queuedAt: Date.now() },
      options.maxInFlight ?? 0,
    );
    return jobId;
  };
  const read = async (tenantId: string, jobId: string) => {
    const record = await store.read(tenantId, jobId);
    if (!record) throw new Error(`job ${jobId} of ${tenantId} not found`);
    return record;
  };
  const aheadOf = (tenantId: string, jobIds: string[]) =>
    Promise.all(jobIds.map(async (jobId) => (await read(tenantId, jobId)).ahead));
  const start = (jobId: string, seed = 7, prompt = 'on a beach, a woman') =>
    store.start(jobId, { worker: 'w1', prompt, seed });
  const inFlight = async (tenantId: string) =>
    Number((await services.redis.hget(store.keys.inflight, tenantId)) ?? 0);

  describe('a job moving through its statuses', () => {
    it('goes queued → processing → completed and records every step', async () => {
      const before = Date.now();
      const jobId = newJobId();
      const created = await store.create(
        {
          jobId,
          tenantId: 'life',
          lane: laneFor('life', 0),
          queuedAt: before,
          profileId: 'prof_0123456789abcdef',
          profileVersion: 3,
          metadata: { shot: 1 },
          callbackUrl: 'https://example.com/hook',
        },
        0,
      );
      expect(created).toEqual({ seq: 1, ahead: 0 });
      expect(await read('life', jobId)).toMatchObject({
        jobId,
        tenantId: 'life',
        status: 'queued',
        progress: 0,
        endpoint: '/generate/image/v1',
        profileId: 'prof_0123456789abcdef',
        profileVersion: 3,
        seed: null,
        prompt: null,
        queuedAt: before,
        startedAt: null,
        finishedAt: null,
        attempts: 0,
        metadata: { shot: 1 },
        ahead: 0,
        error: null,
        failureReasonCode: null,
        retryable: null,
      });

      expect(await start(jobId, 42, 'on a beach, a woman')).toEqual({
        kind: 'started',
        attempts: 1,
        seed: 42,
        prompt: 'on a beach, a woman',
      });
      const processing = await read('life', jobId);
      expect(processing).toMatchObject({
        status: 'processing',
        seed: 42,
        prompt: 'on a beach, a woman',
        attempts: 1,
        ahead: null,
      });
      expect(processing.startedAt).toBeGreaterThanOrEqual(before);

      await store.progress(jobId, 40);
      expect((await read('life', jobId)).progress).toBe(40);

      const finished = await store.finish(jobId, 'completed', {
        inference_ms: 1234,
        result_key: `${jobId}.png`,
        result_mime_type: 'image/png',
        result_size_bytes: 2048,
        result_expires_at: before + 86_400_000,
      });
      expect(finished).toEqual({
        changed: true,
        previous: 'processing',
        callbackUrl: 'https://example.com/hook',
        campaignId: null,
        campaignDone: false,
      });
      const completed = await read('life', jobId);
      expect(completed).toMatchObject({
        status: 'completed',
        progress: 100,
        inferenceMs: 1234,
        resultKey: `${jobId}.png`,
        resultMimeType: 'image/png',
        resultSizeBytes: 2048,
        resultExpiresAt: before + 86_400_000,
        seed: 42,
        attempts: 1,
      });
      expect(completed.finishedAt).toBeGreaterThanOrEqual(processing.startedAt!);
    });

    it('forgets the callback URL and the worker when the job ends, and expires the record after the retention', async () => {
      const jobId = newJobId();
      await store.create(
        {
          jobId,
          tenantId: 'retain',
          lane: laneFor('retain', 0),
          queuedAt: Date.now(),
          callbackUrl: 'https://x.test/h',
        },
        0,
      );
      await start(jobId);
      expect(await store.peek(jobId, 'callback_url', 'worker')).toEqual(['https://x.test/h', 'w1']);
      expect(await services.redis.ttl(store.keys.job(jobId))).toBe(-1);

      await store.finish(jobId, 'failed', {
        error: 'boom',
        failure_reason_code: 'MODEL_ERROR',
        retryable: true,
      });
      expect(await store.peek(jobId, 'callback_url', 'worker')).toEqual([null, null]);
      const ttl = await services.redis.ttl(store.keys.job(jobId));
      expect(ttl).toBeGreaterThan(RETENTION_SECONDS - 30);
      expect(ttl).toBeLessThanOrEqual(RETENTION_SECONDS);
    });
  });

  describe('statuses only move forward', () => {
    it('lets the first finish through and makes a second one a no-op', async () => {
      const jobId = await queue('twice');
      await start(jobId);
      const first = await store.finish(jobId, 'completed', { result_key: `${jobId}.png` });
      const second = await store.finish(jobId, 'failed', {
        error: 'late failure',
        failure_reason_code: 'TIMEOUT',
        retryable: true,
      });
      expect(first).toMatchObject({ changed: true, previous: 'processing' });
      expect(second).toMatchObject({ changed: false, previous: 'completed', callbackUrl: null });
      expect(await read('twice', jobId)).toMatchObject({
        status: 'completed',
        error: null,
        failureReasonCode: null,
        retryable: null,
        resultKey: `${jobId}.png`,
      });
      expect(await inFlight('twice')).toBe(0);
    });

    it('of many concurrent finishes of one job, lets exactly one through', async () => {
      const jobId = await queue('race');
      await start(jobId);
      const outcomes = await Promise.all(
        (['completed', 'failed', 'cancelled', 'completed', 'failed'] as const).map((status) =>
          store.finish(jobId, status, {}),
        ),
      );
      expect(outcomes.filter((outcome) => outcome.changed)).toHaveLength(1);
      expect(await inFlight('race')).toBe(0);
    });

    it('ignores progress that goes backwards or repeats', async () => {
      const jobId = await queue('progress');
      await start(jobId);
      await store.progress(jobId, 50);
      await store.progress(jobId, 30);
      expect((await read('progress', jobId)).progress).toBe(50);
      await store.progress(jobId, 50);
      await store.progress(jobId, 75.9);
      expect((await read('progress', jobId)).progress).toBe(75);
    });

    it('keeps progress below 100 until the job completes', async () => {
      const jobId = await queue('progress-cap');
      await start(jobId);
      await store.progress(jobId, 100);
      expect((await read('progress-cap', jobId)).progress).toBe(99);
      await store.finish(jobId, 'completed', {});
      expect((await read('progress-cap', jobId)).progress).toBe(100);
    });

    it('ignores progress while queued and after a terminal status', async () => {
      const queued = await queue('late-progress');
      await store.progress(queued, 60);
      expect(await read('late-progress', queued)).toMatchObject({ status: 'queued', progress: 0 });

      const ended = await queue('late-progress');
      await start(ended);
      await store.progress(ended, 20);
      await store.finish(ended, 'failed', {
        error: 'x',
        failure_reason_code: 'MODEL_ERROR',
        retryable: true,
      });
      await store.progress(ended, 80);
      expect(await read('late-progress', ended)).toMatchObject({ status: 'failed', progress: 20 });
    });

    it.each(['completed', 'failed', 'cancelled'] as const)(
      'answers a start on a %s job with "terminal" and changes nothing',
      async (status) => {
        const jobId = await queue('start-terminal');
        await store.finish(jobId, status, {});
        expect(await start(jobId)).toEqual({ kind: 'terminal', status });
        expect(await read('start-terminal', jobId)).toMatchObject({
          status,
          attempts: 0,
          startedAt: null,
          seed: null,
          prompt: null,
        });
      },
    );

    it('answers a start on an unknown job with "missing" and creates nothing', async () => {
      const jobId = newJobId();
      expect(await start(jobId)).toEqual({ kind: 'missing' });
      expect(await services.redis.exists(store.keys.job(jobId))).toBe(0);
    });

    it('refuses to move a job that is not processing to pending', async () => {
      const jobId = await queue('retry-queued');
      expect(await store.retry(jobId, { error: 'x', code: 'MODEL_ERROR' })).toBe(false);
      await store.finish(jobId, 'cancelled', {});
      expect(await store.retry(jobId, { error: 'x', code: 'MODEL_ERROR' })).toBe(false);
      expect((await read('retry-queued', jobId)).status).toBe('cancelled');
    });
  });

  describe('retries', () => {
    it('moves a job to pending with the reason, then starts it again with one more attempt and its first seed and prompt', async () => {
      const jobId = await queue('retry');
      expect(await start(jobId, 7, 'first prompt')).toMatchObject({ attempts: 1, seed: 7 });
      await store.progress(jobId, 30);
      const firstStart = (await read('retry', jobId)).startedAt;

      expect(await store.retry(jobId, { error: 'the GPU said 500', code: 'MODEL_ERROR' })).toBe(true);
      expect(await read('retry', jobId)).toMatchObject({
        status: 'pending',
        progress: 0,
        error: 'the GPU said 500',
        failureReasonCode: 'MODEL_ERROR',
        retryable: true,
        attempts: 1,
        ahead: null,
      });

      expect(await start(jobId, 99, 'second prompt')).toEqual({
        kind: 'started',
        attempts: 2,
        seed: 7,
        prompt: 'first prompt',
      });
      expect(await read('retry', jobId)).toMatchObject({
        status: 'processing',
        attempts: 2,
        seed: 7,
        prompt: 'first prompt',
        startedAt: firstStart,
      });
    });

    it('counts a start of a job already processing (a stalled job run again) as another attempt', async () => {
      const jobId = await queue('stalled');
      await start(jobId, 5, 'p');
      expect(await start(jobId, 6, 'q')).toEqual({ kind: 'started', attempts: 2, seed: 5, prompt: 'p' });
    });
  });

  describe('cancel', () => {
    it('cancels a queued job with CANCELLED, not retryable', async () => {
      const jobId = await queue('cancel');
      expect(await store.cancel('cancel', jobId)).toMatchObject({ changed: true, previous: 'queued' });
      const record = await read('cancel', jobId);
      expect(record).toMatchObject({
        status: 'cancelled',
        failureReasonCode: 'CANCELLED',
        retryable: false,
        ahead: null,
      });
      expect(record.error).toEqual(expect.any(String));
      expect(record.finishedAt).toEqual(expect.any(Number));
    });

    it('cancels a processing job', async () => {
      const jobId = await queue('cancel');
      await start(jobId);
      expect(await store.cancel('cancel', jobId)).toMatchObject({ changed: true, previous: 'processing' });
      expect((await read('cancel', jobId)).status).toBe('cancelled');
    });

    it('cancels a pending job', async () => {
      const jobId = await queue('cancel');
      await start(jobId);
      await store.retry(jobId, { error: 'x', code: 'TIMEOUT' });
      expect(await store.cancel('cancel', jobId)).toMatchObject({ changed: true, previous: 'pending' });
      expect(await read('cancel', jobId)).toMatchObject({
        status: 'cancelled',
        failureReasonCode: 'CANCELLED',
        retryable: false,
      });
    });

    it.each(['completed', 'failed', 'cancelled'] as const)(
      'changes nothing on a %s job and says what status it had',
      async (status) => {
        const jobId = await queue('cancel-terminal');
        await start(jobId);
        await store.finish(
          jobId,
          status,
          status === 'failed' ? { error: 'boom', failure_reason_code: 'MODEL_ERROR' } : {},
        );
        const before = await read('cancel-terminal', jobId);
        expect(await store.cancel('cancel-terminal', jobId)).toMatchObject({
          changed: false,
          previous: status,
        });
        expect(await read('cancel-terminal', jobId)).toEqual(before);
      },
    );

    it('answers an unknown job with no previous status', async () => {
      expect(await store.cancel('cancel', newJobId())).toMatchObject({ changed: false, previous: null });
    });
  });

  describe('tenant isolation', () => {
    it('reads a job only for its own tenant', async () => {
      const jobId = await queue('owner-a');
      expect(await store.read('owner-b', jobId)).toBeNull();
      expect(await store.read('owner-a', jobId)).not.toBeNull();
      expect(await store.read('owner-a', newJobId())).toBeNull();
    });

    it("does not let another tenant cancel a job, and tells it nothing about the job's status", async () => {
      const jobId = await queue('owner-a');
      expect(await store.cancel('owner-b', jobId)).toMatchObject({ changed: false, previous: null });
      expect((await read('owner-a', jobId)).status).toBe('queued');

      await store.finish(jobId, 'completed', {});
      expect(await store.cancel('owner-b', jobId)).toMatchObject({ changed: false, previous: null });
    });
  });

  describe('counters', () => {
    it('counts jobs per live state across every move', async () => {
      const base = await store.stateCounts();
      const expectCounts = async (delta: { queued: number; processing: number; pending: number }) =>
        expect(await store.stateCounts()).toEqual({
          queued: base.queued + delta.queued,
          processing: base.processing + delta.processing,
          pending: base.pending + delta.pending,
        });

      const [a, b, c] = [await queue('counts'), await queue('counts'), await queue('counts')];
      await expectCounts({ queued: 3, processing: 0, pending: 0 });
      await start(a);
      await start(b);
      await expectCounts({ queued: 1, processing: 2, pending: 0 });
      await store.retry(a, { error: 'x', code: 'MODEL_ERROR' });
      await expectCounts({ queued: 1, processing: 1, pending: 1 });
      await start(a);
      await expectCounts({ queued: 1, processing: 2, pending: 0 });
      await store.finish(a, 'completed', {});
      await store.finish(a, 'failed', {});
      await store.progress(a, 50);
      await expectCounts({ queued: 1, processing: 1, pending: 0 });
      await store.cancel('counts', c);
      await store.cancel('counts', c);
      await expectCounts({ queued: 0, processing: 1, pending: 0 });
      await store.finish(b, 'failed', {});
      await expectCounts({ queued: 0, processing: 0, pending: 0 });
    });

    it('counts the jobs in flight per tenant until each one ends, once', async () => {
      const a = await queue('inflight-a');
      const b = await queue('inflight-a');
      await queue('inflight-b');
      expect([await inFlight('inflight-a'), await inFlight('inflight-b')]).toEqual([2, 1]);
      await start(a);
      await store.retry(a, { error: 'x', code: 'MODEL_ERROR' });
      expect(await inFlight('inflight-a')).toBe(2);
      await store.finish(a, 'failed', {});
      await store.finish(a, 'failed', {});
      await store.cancel('inflight-a', b);
      await store.cancel('inflight-a', b);
      expect([await inFlight('inflight-a'), await inFlight('inflight-b')]).toEqual([0, 1]);
    });
  });

  describe('the per-tenant in-flight limit', () => {
    it('refuses a job past the limit with CONCURRENT_JOBS_EXCEEDED and Retry-After, recording nothing', async () => {
      await queue('limited', { maxInFlight: 2 });
      await queue('limited', { maxInFlight: 2 });
      const base = await store.stateCounts();
      const refusedId = newJobId();
      const refused = store.create(
        { jobId: refusedId, tenantId: 'limited', lane: laneFor('limited', 0), queuedAt: Date.now() },
        2,
      );
      await expect(refused).rejects.toBeInstanceOf(AppError);
      await expect(refused).rejects.toMatchObject({
        code: 'CONCURRENT_JOBS_EXCEEDED',
        headers: { 'Retry-After': expect.stringMatching(/^\d+$/) },
      });
      expect(await services.redis.exists(store.keys.job(refusedId))).toBe(0);
      expect(await store.stateCounts()).toEqual(base);
      expect(await inFlight('limited')).toBe(2);
    });

    it('counts pending and processing jobs against the limit and frees a place when one ends', async () => {
      const a = await queue('limited-2', { maxInFlight: 2 });
      const b = await queue('limited-2', { maxInFlight: 2 });
      await start(a);
      await start(b);
      await store.retry(b, { error: 'x', code: 'MODEL_ERROR' });
      await expect(queue('limited-2', { maxInFlight: 2 })).rejects.toMatchObject({
        code: 'CONCURRENT_JOBS_EXCEEDED',
      });
      await store.finish(a, 'completed', {});
      const c = await queue('limited-2', { maxInFlight: 2 });
      expect((await read('limited-2', c)).status).toBe('queued');
    });

    it("applies the limit per tenant: one tenant's full quota does not stop another", async () => {
      await queue('quota-a', { maxInFlight: 1 });
      await expect(queue('quota-a', { maxInFlight: 1 })).rejects.toMatchObject({
        code: 'CONCURRENT_JOBS_EXCEEDED',
      });
      const other = await queue('quota-b', { maxInFlight: 1 });
      expect((await read('quota-b', other)).status).toBe('queued');
    });

    it('has no limit when the limit is 0', async () => {
      for (let i = 0; i < 5; i++) await queue('unlimited', { maxInFlight: 0 });
      expect(await inFlight('unlimited')).toBe(5);
    });

    it('refuses a job id that is already taken, keeping the first job', async () => {
      const jobId = await queue('dup');
      await start(jobId);
      await expect(
        store.create({ jobId, tenantId: 'dup', lane: laneFor('dup', 0), queuedAt: Date.now() }, 0),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      expect((await read('dup', jobId)).status).toBe('processing');
      expect(await inFlight('dup')).toBe(1);
    });
  });

  describe('queue positions', () => {
    it('counts the jobs ahead in one lane in submission order', async () => {
      const created: number[] = [];
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const jobId = newJobId();
        ids.push(jobId);
        const { ahead } = await store.create(
          { jobId, tenantId: 'pos', lane: laneFor('pos', 0), queuedAt: Date.now() },
          0,
        );
        created.push(ahead);
      }
      expect(created).toEqual([0, 1, 2, 3]);
      expect(await aheadOf('pos', ids)).toEqual([0, 1, 2, 3]);
    });

    it('moves every job up as the ones ahead start, and has no position once started', async () => {
      const ids = [await queue('pos-start'), await queue('pos-start'), await queue('pos-start')];
      await start(ids[0]!);
      expect(await aheadOf('pos-start', ids)).toEqual([null, 0, 1]);
      await start(ids[1]!);
      expect(await aheadOf('pos-start', ids)).toEqual([null, null, 0]);
    });

    it('does not move the queue again when a retried job starts a second time', async () => {
      const ids = [await queue('pos-retry'), await queue('pos-retry'), await queue('pos-retry')];
      await start(ids[0]!);
      await store.retry(ids[0]!, { error: 'x', code: 'MODEL_ERROR' });
      await start(ids[0]!);
      expect(await aheadOf('pos-retry', ids)).toEqual([null, 0, 1]);
    });

    it('moves the jobs behind a cancelled job up and leaves the ones ahead of it where they are', async () => {
      const ids = [
        await queue('pos-cancel'),
        await queue('pos-cancel'),
        await queue('pos-cancel'),
        await queue('pos-cancel'),
      ];
      await store.cancel('pos-cancel', ids[1]!);
      expect(await aheadOf('pos-cancel', [ids[0]!, ids[2]!, ids[3]!])).toEqual([0, 1, 2]);
    });

    it('does not move anyone up when the last job of the lane is cancelled', async () => {
      const ids = [await queue('pos-tail'), await queue('pos-tail'), await queue('pos-tail')];
      await store.cancel('pos-tail', ids[2]!);
      expect(await aheadOf('pos-tail', [ids[0]!, ids[1]!])).toEqual([0, 1]);
    });

    it('does not count the lanes of other tenants', async () => {
      await queue('pos-busy');
      await queue('pos-busy');
      const alone = await queue('pos-alone');
      expect(await aheadOf('pos-alone', [alone])).toEqual([0]);
    });

    it("counts the tenant's waiting priority jobs ahead of its normal jobs, and not the other way round", async () => {
      const normal = await queue('pos-hi');
      const high = await queue('pos-hi', { priority: 5 });
      const high2 = await queue('pos-hi', { priority: 5 });
      expect(await aheadOf('pos-hi', [normal, high, high2])).toEqual([2, 0, 1]);
      await start(high);
      expect(await aheadOf('pos-hi', [normal, high2])).toEqual([1, 0]);
    });
  });

  describe('discard', () => {
    it('undoes a create: no record, and every counter back where it was', async () => {
      const kept = await queue('discard');
      const base = await store.stateCounts();
      const jobId = await queue('discard');
      await store.discard(jobId);
      expect(await store.read('discard', jobId)).toBeNull();
      expect(await services.redis.exists(store.keys.job(jobId))).toBe(0);
      expect(await store.stateCounts()).toEqual(base);
      expect(await inFlight('discard')).toBe(1);
      expect(await aheadOf('discard', [kept])).toEqual([0]);
      const next = await queue('discard');
      expect(await aheadOf('discard', [kept, next])).toEqual([0, 1]);
    });

    it('leaves the positions of the jobs before a discarded one unchanged', async () => {
      const ids = [await queue('discard-pos'), await queue('discard-pos')];
      const dropped = await queue('discard-pos');
      await store.discard(dropped);
      expect(await aheadOf('discard-pos', ids)).toEqual([0, 1]);
    });

    it('does nothing to a job that has started or ended', async () => {
      const started = await queue('discard-late');
      await start(started);
      await store.discard(started);
      expect((await read('discard-late', started)).status).toBe('processing');
      const ended = await queue('discard-late');
      await store.cancel('discard-late', ended);
      await store.discard(ended);
      expect((await read('discard-late', ended)).status).toBe('cancelled');
      expect(await inFlight('discard-late')).toBe(1);
    });
  });
});
