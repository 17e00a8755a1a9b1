/**
 * What a user sees when the GPU server misbehaves (SPEC §4, §8): a stub AUTOMATIC1111 server scripted to fail.
 * A 5xx is retried after a back-off (the job shows `pending` meanwhile), a 4xx fails the job at once, and a
 * generation that never ends runs out of its time budget. Back-off and budget are shrunk so this stays quick.
 */
import { type A1111Stub, startA1111Stub } from '@castforge/testkit/a1111-stub';
import { type ApiHarness, type WorkerHarness, jobEnded, startApi, startWorker } from '@castforge/testkit';
import { type JobStatus } from '@castforge/schemas';
import request from 'supertest';

const ATTEMPTS = 3;

describe('an AUTOMATIC1111 server that fails', () => {
  let api: ApiHarness;
  let stub: A1111Stub;
  let worker: WorkerHarness;

  beforeAll(async () => {
    api = await startApi('story-backend-failures', { JOB_ATTEMPTS: String(ATTEMPTS), JOB_BACKOFF_MS: '300' });
    stub = await startA1111Stub({ generationMs: 100 });
    worker = await startWorker(api.services, {
      INFERENCE_BACKEND: 'a1111',
      INFERENCE_URLS: stub.url,
      JOB_TIMEOUT_SECONDS: '1',
    });
  });
  afterAll(async () => {
    await worker.close();
    await stub.close();
    await api.close();
  });

  /** Submits a job and follows it to its end, keeping every status it was seen in. */
  const follow = async (tenant: string, prompt: string) => {
    const key = await api.keyFor(tenant);
    const submitted = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ prompt, width: 64, height: 64, num_inference_steps: 4, output_format: 'png' });
    expect(submitted.status).toBe(202);
    const jobId = submitted.body.job_id as string;
    const seen: JobStatus[] = [];
    const final = await jobEnded(api, key, jobId, {
      timeoutMs: 20_000,
      intervalMs: 20,
      onStatus: (status) => {
        if (seen.at(-1)?.status !== status.status) seen.push(status);
      },
    });
    const sentToServer = stub.requests.filter((r) => r.body.force_task_id === jobId);
    return { jobId, final, seen, sentToServer };
  };

  it('retries a job after two 500s, showing it as pending between attempts, and completes it on the third', async () => {
    stub.script({ status: 500, times: 2 });
    const { final, seen, sentToServer } = await follow('fails-twice', 'a harbour in the rain');

    expect(final).toMatchObject({
      status: 'completed',
      attempts: 3,
      progress: 100,
      error: null,
      failure_reason_code: null,
      retryable: null,
    });
    expect(final.result_url).toEqual(expect.any(String));
    const pending = seen.find((s) => s.status === 'pending');
    expect(pending).toMatchObject({ failure_reason_code: 'MODEL_ERROR', retryable: true, result_url: null });
    expect(pending?.error).toMatch(/500/);
    // Every attempt asks for the same seed, the one the status reports, so the result is reproducible.
    expect(sentToServer.map((r) => r.body.seed)).toEqual([final.seed, final.seed, final.seed]);
  });

  it('fails a job once every attempt got a 500, as MODEL_ERROR and retryable', async () => {
    stub.script({ status: 500, times: ATTEMPTS });
    const { final, seen, sentToServer } = await follow('fails-always', 'a harbour in the fog');

    expect(final).toMatchObject({
      status: 'failed',
      attempts: ATTEMPTS,
      failure_reason_code: 'MODEL_ERROR',
      retryable: true,
      result_url: null,
    });
    expect(seen.map((s) => s.status)).toContain('pending');
    expect(sentToServer).toHaveLength(ATTEMPTS);
  });

  it('fails a job at once when the server rejects its request with 422: INPUT_INVALID, not retryable, one attempt', async () => {
    stub.script({
      status: 422,
      body: {
        error: 'RequestValidationError',
        detail: 'sampler_name: unknown sampler',
        body: '',
        errors: '',
      },
    });
    const { final, seen, sentToServer } = await follow('rejected', 'a harbour at noon');

    expect(final).toMatchObject({
      status: 'failed',
      attempts: 1,
      failure_reason_code: 'INPUT_INVALID',
      retryable: false,
      result_url: null,
    });
    expect(final.error).toMatch(/422/);
    expect(seen.map((s) => s.status)).not.toContain('pending');
    expect(sentToServer).toHaveLength(1);
  });

  it('fails a job whose generation never ends with TIMEOUT after its attempts, interrupting the server each time', async () => {
    stub.script({ hang: true, times: ATTEMPTS });
    const interruptsBefore = stub.interrupts;
    const { final, seen, sentToServer } = await follow('hangs', 'a harbour at midnight');

    expect(final).toMatchObject({
      status: 'failed',
      attempts: ATTEMPTS,
      failure_reason_code: 'TIMEOUT',
      retryable: true,
      result_url: null,
    });
    expect(seen.map((s) => s.status)).toContain('pending');
    expect(sentToServer).toHaveLength(ATTEMPTS);
    expect(stub.interrupts - interruptsBefore).toBe(ATTEMPTS);
  });

  it('runs the next job normally once the failures are over', async () => {
    const { final, sentToServer } = await follow('after-failures', 'a harbour at dawn');
    expect(final).toMatchObject({ status: 'completed', attempts: 1 });
    expect(sentToServer).toHaveLength(1);
  });
});
