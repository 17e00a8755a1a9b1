/**
 * Zero data retention (SPEC §9, docs/architecture.md): once jobs end, Redis keeps no API key, no callback URL
 * and nothing of what BullMQ carried for them; results go when their link expires, and so does the status
 * record. Jobs end every way a job can: completed (one with metadata, one with a callback URL carrying a token
 * and an Idempotency-Key), failed, and cancelled while running and while queued. RESULT_TTL_SECONDS is the
 * smallest allowed (10 s) on the API and the worker alike, so expiry comes within the test.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  isBullKey,
  type ApiHarness,
  type WorkerHarness,
  dumpRedis,
  expectError,
  hasEnded,
  rawRequest,
  startApi,
  startWorker,
} from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import { type JobStatus } from '@castforge/schemas';
import request from 'supertest';
import { scriptedBackend } from '@castforge/testkit/scripted-backend';

const TTL = { RESULT_TTL_SECONDS: '10' };
const TOKEN = 'zdr-callback-token-5b1e9c';
const METADATA = { order: 'zdr-metadata-8d2f' };
const SCENES = {
  completed: 'zdr scene one with metadata',
  callback: 'zdr scene two with a callback',
  failed: 'reject zdr scene three',
  running: 'slow zdr scene four',
  queued: 'zdr scene five, cancelled while queued',
};

describe('zero data retention once jobs have ended', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let hooks: Server;
  let apiKey: string;
  let callbackUrl: string;
  const jobs = {} as Record<keyof typeof SCENES, string>;
  let completed: JobStatus;
  /** Proof that the scan below can see job data in BullMQ: it did while a job was waiting. */
  let sawQueuedJobData = false;

  const statusOf = async (jobId: string) =>
    request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', apiKey);
  const submit = async (body: Record<string, unknown>, headers: Record<string, string> = {}) => {
    const res = await request(api.server)
      .post('/generate/image/v1')
      .set({ 'X-API-Key': apiKey, ...headers })
      .send({ width: 64, height: 64, num_inference_steps: 20, output_format: 'png', ...body });
    expect(res.status).toBe(202);
    return res.body.job_id as string;
  };
  const until = (jobId: string, accept: (s: JobStatus) => boolean, what: string) =>
    waitFor(
      async () => {
        const s = (await statusOf(jobId)).body as JobStatus;
        return accept(s) && s;
      },
      { timeoutMs: 15_000, what: `job ${jobId} ${what}` },
    );

  beforeAll(async () => {
    api = await startApi('story-zero-data-retention', { ...TTL, CALLBACK_ALLOW_LOOPBACK: 'true' });
    worker = await startWorker(api.services, TTL, { backend: scriptedBackend().backend });
    hooks = createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
    callbackUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hooks/castforge?token=${TOKEN}`;
    apiKey = await api.keyFor('zdr');

    jobs.running = await submit({ prompt: SCENES.running });
    await until(jobs.running, (s) => s.status === 'processing', 'to start');
    jobs.queued = await submit({ prompt: SCENES.queued });
    sawQueuedJobData = [...(await dumpRedis(api.services.redis, api.services.prefix))].some(
      ([key, content]) => isBullKey(key) && key.includes(jobs.queued) && content.includes(SCENES.queued),
    );
    expect(
      (await request(api.server).post(`/generate/image/v1/cancel/${jobs.queued}`).set('X-API-Key', apiKey))
        .status,
    ).toBe(202);
    expect(
      (await request(api.server).post(`/generate/image/v1/cancel/${jobs.running}`).set('X-API-Key', apiKey))
        .status,
    ).toBe(202);
    jobs.completed = await submit({ prompt: SCENES.completed, metadata: METADATA });
    jobs.callback = await submit(
      { prompt: SCENES.callback, callback_url: callbackUrl },
      { 'Idempotency-Key': 'zdr-order-1' },
    );
    jobs.failed = await submit({ prompt: SCENES.failed });
    const final = await Promise.all(Object.values(jobs).map((id) => until(id, hasEnded, 'to end')));
    expect(final.map((s) => s.status)).toEqual([
      'cancelled',
      'cancelled',
      'completed',
      'completed',
      'failed',
    ]);
    completed = final[2]!;
    expect(completed.metadata).toEqual(METADATA);
  });
  afterAll(async () => {
    await worker.close();
    hooks.closeAllConnections();
    await new Promise((resolve) => hooks.close(resolve));
    await api.close();
  });

  /** What Redis still holds that it must not: secrets anywhere, anything of an ended job in BullMQ. */
  const forbiddenLeftovers = async () => {
    const { prefix } = api.services;
    const secrets = [apiKey, createHash('sha256').update(apiKey).digest('hex'), TOKEN, callbackUrl];
    const payloads = [...Object.values(SCENES), METADATA.order];
    const found: string[] = [];
    for (const [key, content] of await dumpRedis(api.services.redis, prefix)) {
      for (const secret of secrets)
        if (`${key} ${content}`.includes(secret)) found.push(`${key} holds ${secret}`);
      if (!isBullKey(key)) continue;
      for (const jobId of Object.values(jobs)) if (key.includes(jobId)) found.push(`BullMQ still has ${key}`);
      for (const payload of payloads) if (content.includes(payload)) found.push(`${key} holds "${payload}"`);
    }
    return found;
  };

  it('keeps no API key, no callback URL and no BullMQ job data of the ended jobs in Redis', async () => {
    // BullMQ removes a job just after its processor returns, a moment after the status says it ended.
    expect(sawQueuedJobData).toBe(true);
    await waitFor(async () => (await forbiddenLeftovers()).length === 0, { timeoutMs: 5000 }).catch(
      () => undefined,
    );
    expect(await forbiddenLeftovers()).toEqual([]);
    // The status still answers until the record expires, without the callback URL.
    const callback = (await statusOf(jobs.callback)).body as JobStatus;
    expect(callback.status).toBe('completed');
    expect(JSON.stringify(callback)).not.toContain(TOKEN);
  });

  it('deletes the result once its link expired, answers 410 on the link, and then forgets the jobs entirely', async () => {
    const link = new URL(completed.result_url!);
    const linkPath = `${link.pathname}${link.search}`;
    const file = path.join(
      tmpdir(),
      `castforge-test-${api.services.prefix}`,
      'results',
      `${jobs.completed}.png`,
    );
    const expiresAt = Date.parse(completed.result_expires_at!);
    if (Date.now() < expiresAt - 1000) {
      expect(existsSync(file)).toBe(true);
      expect((await rawRequest(api.baseUrl, { method: 'GET', path: linkPath })).status).toBe(200);
    }

    // The workers' sweeper deletes results whose link has expired, whether or not anyone asks for them.
    await waitFor(
      async () => {
        await worker.pool.sweepResults();
        return !existsSync(file);
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'the sweeper to delete the result' },
    );
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expectError(await rawRequest(api.baseUrl, { method: 'GET', path: linkPath }), 'GONE');

    // Each status record expires RESULT_TTL_SECONDS after its job ended; then nothing of the jobs is left.
    const remaining = async () =>
      [...(await dumpRedis(api.services.redis, api.services.prefix))]
        .filter(
          ([key, content]) =>
            Object.values(jobs).some((jobId) => key.endsWith(`:job:${jobId}`)) ||
            [...Object.values(SCENES), METADATA.order, TOKEN, `${jobs.completed}.png`].some((s) =>
              content.includes(s),
            ),
        )
        .map(([key]) => key);
    await waitFor(async () => (await remaining()).length === 0, { timeoutMs: 5000 }).catch(() => undefined);
    expect(await remaining()).toEqual([]);
    for (const jobId of Object.values(jobs)) expect((await statusOf(jobId)).status).toBe(404);
  }, 40_000);

  it("drops a cancelled job's request from BullMQ at once, even while the GPU is busy with another job", async () => {
    const busy = await submit({ prompt: 'slow zdr backlog scene that holds the GPU' });
    await until(busy, (s) => s.status === 'processing', 'to start');
    const prepared = await submit({ prompt: 'zdr backlog scene waiting for the GPU' });
    const waiting = await submit({ prompt: 'zdr backlog scene waiting in the queue' });
    await waitFor(() => worker.pool.scheduler.waitingCount() === 1, { what: 'a job waiting for the GPU' });
    const cancel = (jobId: string) =>
      request(api.server).post(`/generate/image/v1/cancel/${jobId}`).set('X-API-Key', apiKey);
    try {
      // Only the one still in the queue: the worker is busy, so it will not come across it for a while.
      // Its id may stay in the lane until a worker drops it (removing it from a FIFO list is O(n));
      // what it carried must be gone at once.
      expect((await cancel(waiting)).status).toBe(202);
      const bullmqLeftovers = async () =>
        [...(await dumpRedis(api.services.redis, api.services.prefix))]
          .filter(([key]) => isBullKey(key))
          .filter(([, content]) => content.includes('zdr backlog scene waiting in'))
          .map(([key]) => `${key} (with its prompt)`);
      await waitFor(async () => (await bullmqLeftovers()).length === 0, { timeoutMs: 3000 }).catch(
        () => undefined,
      );
      expect(await bullmqLeftovers()).toEqual([]);
    } finally {
      await cancel(prepared);
      await cancel(busy);
    }
  });
});
