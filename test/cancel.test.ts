/**
 * POST /generate/image/v1/cancel/:job_id (SPEC §4): a queued job is cancelled at once and never reaches a GPU,
 * a running one is interrupted at its backend, an ended one answers 409. The GPU is our own seam: a
 * simulated backend wrapped to record which jobs reached it, and the A1111 stub for the real HTTP adapter.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type A1111Stub, startA1111Stub } from '@castforge/testkit/a1111-stub';
import { type ApiHarness, type WorkerHarness, expectError, startApi, startWorker } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import { type JobStatus } from '@castforge/schemas';
import request from 'supertest';
import { type ScriptedBackend, scriptedBackend } from '@castforge/testkit/scripted-backend';

describe('cancelling a job', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('story-cancel');
  });
  afterAll(() => api.close());

  const client = (key: string) => {
    const submit = async (body: Record<string, unknown>) => {
      const res = await request(api.server)
        .post('/generate/image/v1')
        .set('X-API-Key', key)
        .send({ width: 64, height: 64, num_inference_steps: 20, output_format: 'png', ...body });
      expect(res.status).toBe(202);
      return res.body.job_id as string;
    };
    const status = async (jobId: string) =>
      (await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key))
        .body as JobStatus;
    const cancel = (jobId: string) =>
      request(api.server).post(`/generate/image/v1/cancel/${jobId}`).set('X-API-Key', key);
    const until = (jobId: string, accept: (s: JobStatus) => boolean, what: string, timeoutMs = 10_000) =>
      waitFor(
        async () => {
          const s = await status(jobId);
          return accept(s) && s;
        },
        { timeoutMs, what: `job ${jobId} ${what}` },
      );
    return { submit, status, cancel, until };
  };
  const resultFile = (jobId: string) =>
    path.join(tmpdir(), `castforge-test-${api.services.prefix}`, 'results', `${jobId}.png`);

  describe('with a GPU that records which jobs reach it', () => {
    let worker: WorkerHarness;
    let gpu: ScriptedBackend;
    beforeAll(async () => {
      gpu = scriptedBackend();
      worker = await startWorker(api.services, {}, { backend: gpu.backend });
    });
    afterAll(() => worker.close());

    it('cancels queued jobs at once, whether waiting for a GPU slot or still in the queue, and never runs them', async () => {
      const user = client(await api.keyFor('cancel-queued'));
      const busy = await user.submit({ prompt: 'slow scene that holds the only GPU' });
      await user.until(busy, (s) => s.status === 'processing', 'to start');
      const waitingForSlot = await user.submit({ prompt: 'first scene behind it' });
      const stillQueued = await user.submit({ prompt: 'second scene behind it' });
      // The first is already taken from the queue and prepared; it waits for the GPU in the worker.
      await waitFor(() => worker.pool.scheduler.waitingCount() === 1, { what: 'a job waiting for the GPU' });

      for (const jobId of [waitingForSlot, stillQueued]) {
        const res = await user.cancel(jobId);
        expect(res.status).toBe(202);
        expect(res.body).toMatchObject({
          job_id: jobId,
          status: 'cancelled',
          failure_reason_code: 'CANCELLED',
          retryable: false,
          result_url: null,
          queue_position: null,
        });
      }
      expect((await user.cancel(busy)).status).toBe(202);
      const after = await user.submit({ prompt: 'a scene sent after the cancels' });
      await user.until(after, (s) => s.status === 'completed', 'to complete');

      expect(gpu.reached.filter((id) => [busy, waitingForSlot, stillQueued, after].includes(id))).toEqual([
        busy,
        after,
      ]);
      for (const jobId of [waitingForSlot, stillQueued]) {
        expect(await user.status(jobId)).toMatchObject({
          status: 'cancelled',
          attempts: 0,
          started_at: null,
          seed: null,
          prompt: null,
        });
      }
    });

    it('interrupts a running job at its backend within a few seconds and frees the GPU for the next job', async () => {
      const user = client(await api.keyFor('cancel-running'));
      const running = await user.submit({ prompt: 'slow scene of ten seconds' });
      await user.until(running, (s) => s.status === 'processing' && s.progress > 0, 'to be mid-run');

      const res = await user.cancel(running);
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({
        status: 'cancelled',
        failure_reason_code: 'CANCELLED',
        retryable: false,
      });
      await waitFor(() => gpu.interrupted.includes(running), {
        timeoutMs: 3000,
        what: 'the backend to be interrupted',
      });

      // Had the GPU not been let go, this job would wait for the rest of the ten seconds.
      const next = await user.submit({ prompt: 'a quick scene' });
      await user.until(next, (s) => s.status === 'completed', 'to complete', 5000);

      const final = await user.status(running);
      expect(final).toMatchObject({
        status: 'cancelled',
        failure_reason_code: 'CANCELLED',
        retryable: false,
        result_url: null,
        result_size_bytes: null,
      });
      // Terminal means frozen: no late progress write from the interrupted run moved it afterwards.
      expect({ progress: final.progress, finished_at: final.finished_at }).toEqual({
        progress: res.body.progress,
        finished_at: res.body.finished_at,
      });
      expect(final.progress).toBeLessThan(100);
      expect(existsSync(resultFile(running))).toBe(false);
    });

    it('answers 409 for a job that already ended, and leaves it as it was', async () => {
      const user = client(await api.keyFor('cancel-ended'));
      const done = await user.submit({ prompt: 'a quick scene' });
      const completed = await user.until(done, (s) => s.status === 'completed', 'to complete');

      expectError(await user.cancel(done), 'CONFLICT');
      const after = await user.status(done);
      expect(after).toMatchObject({
        status: 'completed',
        failure_reason_code: null,
        finished_at: completed.finished_at,
      });
      expect(after.result_url).toEqual(expect.any(String));

      const cancelled = await user.submit({ prompt: 'slow scene cancelled twice' });
      expect((await user.cancel(cancelled)).status).toBe(202);
      expectError(await user.cancel(cancelled), 'CONFLICT');
      expect((await user.status(cancelled)).status).toBe('cancelled');
    });

    it("answers 404 for another tenant's job and for an unknown job, and does not cancel it", async () => {
      const owner = client(await api.keyFor('cancel-owner'));
      const stranger = client(await api.keyFor('cancel-stranger'));
      const jobId = await owner.submit({ prompt: 'slow scene of the owner' });
      expectError(await stranger.cancel(jobId), 'NOT_FOUND');
      expectError(await stranger.cancel('job_0123456789abcdef'), 'NOT_FOUND');
      expect((await owner.status(jobId)).status).not.toBe('cancelled');
      expect((await owner.cancel(jobId)).status).toBe(202);
    });
  });

  describe('with an AUTOMATIC1111 server', () => {
    let stub: A1111Stub;
    let worker: WorkerHarness;
    beforeAll(async () => {
      stub = await startA1111Stub();
      worker = await startWorker(api.services, { INFERENCE_BACKEND: 'a1111', INFERENCE_URLS: stub.url });
    });
    afterAll(async () => {
      await worker.close();
      await stub.close();
    });

    it('sends an interrupt to the server running the job, and the server then takes the next job', async () => {
      const user = client(await api.keyFor('cancel-a1111'));
      stub.script({ hang: true });
      const hanging = await user.submit({ prompt: 'a scene the server never finishes' });
      await user.until(hanging, (s) => s.status === 'processing', 'to start');
      await waitFor(() => stub.requests.some((r) => r.body.force_task_id === hanging), {
        what: 'the server to receive the job',
      });
      const interruptsBefore = stub.interrupts;

      const res = await user.cancel(hanging);
      expect(res.status).toBe(202);
      expect(res.body.status).toBe('cancelled');
      await waitFor(() => stub.interrupts > interruptsBefore, { timeoutMs: 3000, what: 'an interrupt' });

      const next = await user.submit({ prompt: 'the next scene' });
      await user.until(next, (s) => s.status === 'completed', 'to complete', 5000);
      expect(await user.status(hanging)).toMatchObject({ status: 'cancelled', result_url: null });
      expect(stub.requests.filter((r) => r.body.force_task_id === hanging)).toHaveLength(1);
    });
  });
});
