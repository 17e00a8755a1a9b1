import { createRedis } from '@castforge/core';
import { JobQueuedResponse, JobStatus } from '@castforge/schemas';
import { type ApiHarness, expectError, locsOf, startApi } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import { Queue } from 'bullmq';
import request from 'supertest';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const JOB_ID = /^job_[0-9a-f]{16}$/;
const GENERATE = '/generate/image/v1';

/** Every field of the SPEC §4 status, with the extension fields this project adds. */
const STATUS_FIELDS = [
  'attempts',
  'campaign_id',
  'cost_usd',
  'endpoint',
  'error',
  'estimated_time_seconds',
  'failure_reason_code',
  'finished_at',
  'inference_time_seconds',
  'job_id',
  'metadata',
  'processing_time_seconds',
  'profile_id',
  'profile_version',
  'progress',
  'prompt',
  'prompt_hash',
  'queue_position',
  'queue_wait_seconds',
  'queued_at',
  'result_expires_at',
  'result_mime_type',
  'result_size_bytes',
  'result_url',
  'retryable',
  'seed',
  'started_at',
  'status',
  'total_elapsed_seconds',
  'warnings',
];

describe('POST /generate/image/v1, GET …/status/:job_id, POST …/cancel/:job_id', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('generation-routes');
  });
  afterAll(() => api.close());

  const submit = async (tenant: string, body: unknown) =>
    request(api.server)
      .post(GENERATE)
      .set('X-API-Key', await api.keyFor(tenant))
      .send(body as object);
  const status = async (tenant: string, jobId: string) =>
    request(api.server)
      .get(`${GENERATE}/status/${jobId}`)
      .set('X-API-Key', await api.keyFor(tenant));
  const cancel = async (tenant: string, jobId: string) =>
    request(api.server)
      .post(`${GENERATE}/cancel/${jobId}`)
      .set('X-API-Key', await api.keyFor(tenant));
  const createProfile = async (tenant: string, body: Record<string, unknown>) => {
    const res = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', await api.keyFor(tenant))
      .send({ name: 'Casting', ...body });
    expect(res.status).toBe(201);
    return res.body as { profile_id: string; version: number };
  };
  /** Jobs of the tenant not yet ended, as the status records count them. */
  const jobsInFlight = async (tenant: string) => await api.deps.jobs.inFlight(tenant);

  describe('the 202 JobQueuedResponse', () => {
    it('has exactly the SPEC §3 fields: job_ + 16 hex, queued, the endpoint, a number of seconds, an ISO time', async () => {
      const before = Date.now();
      const res = await submit('shape', { prompt: 'a lighthouse at dusk' });
      expect(res.status).toBe(202);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(res.body).sort()).toEqual([
        'endpoint',
        'estimated_time_seconds',
        'job_id',
        'queued_at',
        'status',
      ]);
      expect(res.body).toEqual({
        job_id: expect.stringMatching(JOB_ID),
        status: 'queued',
        endpoint: GENERATE,
        estimated_time_seconds: expect.any(Number),
        queued_at: expect.stringMatching(ISO_UTC),
      });
      expect(Number.isFinite(res.body.estimated_time_seconds)).toBe(true);
      expect(res.body.estimated_time_seconds).toBeGreaterThanOrEqual(0);
      const queuedAt = Date.parse(res.body.queued_at);
      expect(queuedAt).toBeGreaterThanOrEqual(before - 1000);
      expect(queuedAt).toBeLessThanOrEqual(Date.now() + 1000);
      expect(JobQueuedResponse.safeParse(res.body).success).toBe(true);
    });

    it('gives every job a different id', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 5; i++) ids.add((await submit('ids', { prompt: `shot ${i}` })).body.job_id);
      expect(ids.size).toBe(5);
      expect(await jobsInFlight('ids')).toBe(5);
    });

    it("records the job in its tenant's lane and hands it to BullMQ without the callback URL or metadata", async () => {
      const res = await submit('handoff', {
        prompt: 'a fox',
        width: 512,
        height: 768,
        callback_url: 'https://8.8.8.8/hook',
        metadata: { order: 'A-1' },
      });
      expect(res.status).toBe(202);
      const jobId = res.body.job_id as string;
      expect(await api.deps.jobs.peek({ jobId, tenantId: 'handoff' }, 'lane', 'tenant')).toEqual([
        'gen.handoff',
        'handoff',
      ]);
      const queue = new Queue('gen.handoff', {
        connection: api.services.redis,
        prefix: api.deps.jobs.keys.forTenant('handoff').bullPrefix,
      });
      try {
        const job = await queue.getJob(jobId);
        expect(job?.data).toEqual({
          kind: 'single',
          op: 'generate',
          request: {
            prompt: 'a fox',
            width: 512,
            height: 768,
            seed: -1,
            enhance_prompt: false,
            override_profile: [],
          },
        });
      } finally {
        await queue.close();
      }
    });

    it('puts a job with a priority above 0 in the priority lane', async () => {
      const res = await submit('lanes', { prompt: 'a fox', priority: 7 });
      expect(res.status).toBe(202);
      expect(await api.deps.jobs.peek({ jobId: res.body.job_id, tenantId: 'lanes' }, 'lane')).toEqual([
        'gen.lanes.hi',
      ]);
    });
  });

  describe('the prompt and the profile', () => {
    it('refuses a job without a prompt and without a profile', async () => {
      const body = expectError(await submit('no-prompt', { width: 512 }), 'INVALID_PARAMETERS');
      expect(locsOf(body)).toEqual(['body.prompt']);
      expect(await jobsInFlight('no-prompt')).toBe(0);
    });

    it.each(['suffix', 'prefix'])(
      'refuses a job without a prompt when the profile mode is %s',
      async (mode) => {
        const profile = await createProfile('prompt-modes', {
          prompt_template: 'a woman, late 20s',
          prompt_template_mode: mode,
        });
        const body = expectError(
          await submit('prompt-modes', { profile_id: profile.profile_id }),
          'INVALID_PARAMETERS',
        );
        expect(locsOf(body)).toEqual(['body.prompt']);
      },
    );

    it('accepts a job without a prompt when the profile mode is replace', async () => {
      const profile = await createProfile('prompt-replace', {
        prompt_template: 'a woman in a studio',
        prompt_template_mode: 'replace',
      });
      const res = await submit('prompt-replace', { profile_id: profile.profile_id });
      expect(res.status).toBe(202);
    });

    it.each(['{{ user_prompt }}', '{{user_prompt}}'])(
      'accepts a job without a prompt when the template has %s',
      async (slot) => {
        const profile = await createProfile('prompt-slot', {
          prompt_template: `a woman, ${slot}, 35mm`,
          prompt_template_mode: 'suffix',
        });
        const res = await submit('prompt-slot', { profile_id: profile.profile_id });
        expect(res.status).toBe(202);
      },
    );

    it('refuses a job without a prompt when the replace profile has no template', async () => {
      const profile = await createProfile('prompt-empty', { prompt_template_mode: 'replace' });
      const body = expectError(
        await submit('prompt-empty', { profile_id: profile.profile_id }),
        'INVALID_PARAMETERS',
      );
      expect(locsOf(body)).toEqual(['body.prompt']);
    });

    it('refuses a job without a prompt when the template is nothing but the {{ user_prompt }} slot', async () => {
      // Accepting it would send an empty prompt to the GPU.
      const profile = await createProfile('prompt-only-slot', { prompt_template: '{{ user_prompt }}' });
      const body = expectError(
        await submit('prompt-only-slot', { profile_id: profile.profile_id }),
        'INVALID_PARAMETERS',
      );
      expect(locsOf(body)).toEqual(['body.prompt']);
    });

    it('refuses an unknown profile_id with 422 INPUT_INVALID naming profile_id, and creates no job', async () => {
      const body = expectError(
        await submit('profile-unknown', { prompt: 'x', profile_id: 'prof_0000000000000000' }),
        'INPUT_INVALID',
      );
      expect(locsOf(body)).toEqual(['body.profile_id']);
      expect(await jobsInFlight('profile-unknown')).toBe(0);
    });

    it("refuses another tenant's profile_id exactly as an unknown one", async () => {
      const foreign = await createProfile('profile-owner', { prompt_template: 'a woman' });
      const body = expectError(
        await submit('profile-intruder', { prompt: 'x', profile_id: foreign.profile_id }),
        'INPUT_INVALID',
      );
      expect(locsOf(body)).toEqual(['body.profile_id']);
      expect(body.message).not.toMatch(/profile-owner/);
      expect(await jobsInFlight('profile-intruder')).toBe(0);
    });

    it('refuses a deleted profile_id with 422 INPUT_INVALID', async () => {
      const profile = await createProfile('profile-deleted', { prompt_template: 'a woman' });
      expect((await submit('profile-deleted', { prompt: 'x', profile_id: profile.profile_id })).status).toBe(
        202,
      );
      const deleted = await request(api.server)
        .delete(`/profiles/v1/${profile.profile_id}`)
        .set('X-API-Key', await api.keyFor('profile-deleted'));
      expect(deleted.status).toBe(204);
      const body = expectError(
        await submit('profile-deleted', { prompt: 'x', profile_id: profile.profile_id }),
        'INPUT_INVALID',
      );
      expect(locsOf(body)).toEqual(['body.profile_id']);
      expect(await jobsInFlight('profile-deleted')).toBe(1);
    });

    it('refuses a malformed profile_id as a validation error', async () => {
      const body = expectError(
        await submit('profile-malformed', { prompt: 'x', profile_id: 'prof_XYZ' }),
        'INVALID_PARAMETERS',
      );
      expect(locsOf(body)).toEqual(['body.profile_id']);
    });
  });

  describe('GET /generate/image/v1/status/:job_id', () => {
    it('shows a queued job in the SPEC §4 shape: position a number, seed and prompt not yet known', async () => {
      const submitted = await submit('status', {
        prompt: 'a red bicycle',
        metadata: { shot: 'A-12', take: 3 },
      });
      const res = await status('status', submitted.body.job_id);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(STATUS_FIELDS);
      expect(res.body).toEqual({
        job_id: submitted.body.job_id,
        status: 'queued',
        progress: 0,
        endpoint: GENERATE,
        profile_id: null,
        profile_version: null,
        campaign_id: null,
        seed: null,
        prompt: null,
        result_url: null,
        result_mime_type: null,
        result_size_bytes: null,
        result_expires_at: null,
        queue_position: 0,
        queued_at: submitted.body.queued_at,
        started_at: null,
        finished_at: null,
        queue_wait_seconds: null,
        inference_time_seconds: null,
        total_elapsed_seconds: null,
        attempts: 0,
        metadata: { shot: 'A-12', take: 3 },
        error: null,
        failure_reason_code: null,
        retryable: null,
        // What the official SDK reads (SPEC §4): an estimate while it waits; the rest once it has run.
        estimated_time_seconds: expect.any(Number),
        processing_time_seconds: null,
        warnings: null,
        prompt_hash: null,
        cost_usd: null,
      });
      expect(JobStatus.safeParse(res.body).success).toBe(true);
    });

    it('counts the jobs ahead in queue_position', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await submit('positions', { prompt: `shot ${i}` })).body.job_id);
      const positions = [];
      for (const id of ids) positions.push((await status('positions', id)).body.queue_position);
      expect(positions).toEqual([0, 1, 2]);
    });

    it("counts a tenant's priority jobs ahead of its normal jobs, higher priorities first", async () => {
      const normal = (await submit('priorities', { prompt: 'normal' })).body.job_id;
      const low = (await submit('priorities', { prompt: 'low', priority: 1 })).body.job_id;
      const urgent = (await submit('priorities', { prompt: 'urgent', priority: 10 })).body.job_id;
      const positions: Record<string, number> = {};
      for (const [name, id] of Object.entries({ normal, low, urgent })) {
        positions[name] = (await status('priorities', id)).body.queue_position;
      }
      // BullMQ serves the priority lane by priority: urgent, then low, then the normal lane.
      expect(positions).toEqual({ urgent: 0, low: 1, normal: 2 });
    });

    it('shows the profile and the version the job pinned', async () => {
      const profile = await createProfile('status-profile', { prompt_template: 'a woman' });
      const submitted = await submit('status-profile', { prompt: 'x', profile_id: profile.profile_id });
      const res = await status('status-profile', submitted.body.job_id);
      expect(res.body).toMatchObject({
        profile_id: profile.profile_id,
        profile_version: 1,
        status: 'queued',
      });
    });

    it("answers 404 for another tenant's job, exactly as for an unknown one", async () => {
      const submitted = await submit('status-owner', { prompt: 'x' });
      const foreign = expectError(await status('status-intruder', submitted.body.job_id), 'NOT_FOUND');
      const unknown = expectError(await status('status-intruder', 'job_0000000000000000'), 'NOT_FOUND');
      expect(foreign.message.replace(submitted.body.job_id, 'ID')).toBe(
        unknown.message.replace('job_0000000000000000', 'ID'),
      );
    });

    it.each([
      ['a short id', 'job_123'],
      ['upper-case hex', 'job_0123456789ABCDEF'],
      ['another kind of id', 'prof_0123456789abcdef'],
      ['a long id', `job_${'a'.repeat(500)}`],
      ['an encoded path', '..%2F..%2Fetc%2Fpasswd'],
    ])('answers 404 for a malformed id (%s)', async (_label, id) => {
      expectError(await status('status-malformed', id), 'NOT_FOUND');
    });
  });

  describe('POST /generate/image/v1/cancel/:job_id', () => {
    it('cancels a queued job: 202 with the status, CANCELLED and not retryable', async () => {
      const submitted = await submit('cancel', { prompt: 'x' });
      const res = await cancel('cancel', submitted.body.job_id);
      expect(res.status).toBe(202);
      expect(Object.keys(res.body).sort()).toEqual(STATUS_FIELDS);
      expect(res.body).toMatchObject({
        job_id: submitted.body.job_id,
        status: 'cancelled',
        failure_reason_code: 'CANCELLED',
        retryable: false,
        queue_position: null,
        finished_at: expect.stringMatching(ISO_UTC),
        error: expect.any(String),
        result_url: null,
      });
      expect(JobStatus.safeParse(res.body).success).toBe(true);
      expect((await status('cancel', submitted.body.job_id)).body).toEqual(res.body);
      expect(await jobsInFlight('cancel')).toBe(0);
    });

    it('answers 409 when the job is cancelled again, and changes nothing', async () => {
      const submitted = await submit('cancel-twice', { prompt: 'x' });
      const first = await cancel('cancel-twice', submitted.body.job_id);
      expectError(await cancel('cancel-twice', submitted.body.job_id), 'CONFLICT');
      expect((await status('cancel-twice', submitted.body.job_id)).body).toEqual(first.body);
    });

    it('answers 409 for a job that has completed', async () => {
      const submitted = await submit('cancel-done', { prompt: 'x' });
      await api.deps.jobs.start(
        { jobId: submitted.body.job_id, tenantId: 'cancel-done' },
        { prompt: 'x', seed: 1 },
      );
      await api.deps.jobs.finish({ jobId: submitted.body.job_id, tenantId: 'cancel-done' }, 'completed', {});
      expectError(await cancel('cancel-done', submitted.body.job_id), 'CONFLICT');
      expect((await status('cancel-done', submitted.body.job_id)).body.status).toBe('completed');
    });

    it('cancels a processing job and tells the workers on the cancel channel', async () => {
      const submitted = await submit('cancel-running', { prompt: 'x' });
      const jobId = submitted.body.job_id as string;
      await api.deps.jobs.start({ jobId, tenantId: 'cancel-running' }, { prompt: 'x, final', seed: 5 });
      const subscriber = createRedis(api.services.redisTarget, 'subscriber', api.services.logger);
      const published: string[] = [];
      try {
        subscriber.on('message', (_channel: string, message: string) => published.push(message));
        await subscriber.subscribe(api.deps.jobs.keys.cancelChannel);
        const res = await cancel('cancel-running', jobId);
        expect(res.status).toBe(202);
        expect(res.body).toMatchObject({
          status: 'cancelled',
          failure_reason_code: 'CANCELLED',
          retryable: false,
          seed: 5,
          prompt: 'x, final',
          started_at: expect.stringMatching(ISO_UTC),
        });
        await waitFor(() => published.includes(jobId), { timeoutMs: 3000, what: 'the cancel message' });
      } finally {
        subscriber.disconnect();
      }
    });

    it("answers 404 for an unknown job and for another tenant's job, which stays queued", async () => {
      expectError(await cancel('cancel-owner', 'job_0000000000000000'), 'NOT_FOUND');
      expectError(await cancel('cancel-owner', 'job_nothex'), 'NOT_FOUND');
      const submitted = await submit('cancel-owner', { prompt: 'x' });
      expectError(await cancel('cancel-intruder', submitted.body.job_id), 'NOT_FOUND');
      expect((await status('cancel-owner', submitted.body.job_id)).body.status).toBe('queued');
    });

    it('moves the jobs behind a cancelled job up the queue', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++)
        ids.push((await submit('cancel-positions', { prompt: `${i}` })).body.job_id);
      await cancel('cancel-positions', ids[0]!);
      expect((await status('cancel-positions', ids[1]!)).body.queue_position).toBe(0);
      expect((await status('cancel-positions', ids[2]!)).body.queue_position).toBe(1);
    });
  });

  describe('without an API key', () => {
    it.each([
      ['POST /generate/image/v1', () => request(api.server).post(GENERATE).send({ prompt: 'x' })],
      ['GET …/status/:job_id', () => request(api.server).get(`${GENERATE}/status/job_0000000000000000`)],
      ['POST …/cancel/:job_id', () => request(api.server).post(`${GENERATE}/cancel/job_0000000000000000`)],
    ])('%s answers 401', async (_route, call) => {
      expectError(await call(), 'UNAUTHORIZED');
    });
  });
});
