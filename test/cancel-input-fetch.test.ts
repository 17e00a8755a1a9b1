/**
 * Cancelling a job whose worker is still fetching its input image (SPEC §3b, §4): the job is still `queued`
 * (it starts once its inputs are in memory), yet a worker holds it. The cancel reaches that worker, which
 * drops the fetch at once instead of waiting out INPUT_IMAGE_TIMEOUT_MS, and the job never reaches a GPU.
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker, waitFor } from '@castforge/testkit';
import { type ImageServer, startImageServer } from '@castforge/testkit/image-server';
import { type JobStatus } from '@castforge/schemas';
import request from 'supertest';

const LOOPBACK = { INPUT_ALLOW_LOOPBACK: 'true' };

describe('cancelling a job while its input image is being fetched', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let images: ImageServer;
  const closedAt: number[] = [];

  beforeAll(async () => {
    images = await startImageServer({
      // Answers nothing: the fetch waits until the worker gives up or is told to stop.
      '/slow-face.png': (req) => {
        req.on('close', () => closedAt.push(Date.now()));
      },
    });
    api = await startApi('story-cancel-input-fetch', LOOPBACK);
    worker = await startWorker(api.services, { ...LOOPBACK, INPUT_IMAGE_TIMEOUT_MS: '60000' });
    await waitFor(async () => (await api.deps.capabilities.operations()).has('lock'), {
      timeoutMs: 10_000,
      what: 'the worker to announce lock',
    });
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await images?.close();
  });

  it('stops the fetch at once and ends the job cancelled, never started', async () => {
    const key = await api.keyFor('cancel-fetch');
    const submitted = await request(api.server)
      .post('/identity/lock/image/v1')
      .set('X-API-Key', key)
      .send({
        input_image: images.at('/slow-face.png'),
        prompt: 'a lighthouse keeper',
        width: 64,
        height: 64,
      });
    expect(submitted.status).toBe(202);
    const jobId = submitted.body.job_id as string;
    await waitFor(() => images.requests.includes('/slow-face.png'), {
      timeoutMs: 10_000,
      what: 'the worker to start fetching the input image',
    });

    const cancelledAt = Date.now();
    const cancel = await request(api.server)
      .post(`/identity/lock/image/v1/cancel/${jobId}`)
      .set('X-API-Key', key);
    expect(cancel.status).toBe(202);
    // The worker hangs up on the image server well within the fetch's 60 s budget.
    await waitFor(() => closedAt.length > 0, { timeoutMs: 10_000, what: 'the fetch to be dropped' });
    expect(closedAt[0]! - cancelledAt).toBeLessThan(10_000);

    const status = (
      await request(api.server).get(`/identity/lock/image/v1/status/${jobId}`).set('X-API-Key', key)
    ).body as JobStatus;
    expect(status).toMatchObject({ status: 'cancelled', failure_reason_code: 'CANCELLED', started_at: null });
    // The worker goes on: the next job runs.
    const next = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ prompt: 'after the cancel', width: 64, height: 64, num_inference_steps: 2 });
    await waitFor(
      async () =>
        (
          await request(api.server)
            .get(`/generate/image/v1/status/${next.body.job_id as string}`)
            .set('X-API-Key', key)
        ).body.status === 'completed',
      { timeoutMs: 10_000, what: 'the next job to complete' },
    );
  });
});
