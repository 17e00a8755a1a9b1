import { type ApiHarness, type WorkerHarness, startApi, startWorker, waitFor } from '@castforge/testkit';
import request from 'supertest';

/**
 * SIGTERM on a worker (its pool's close): the job on the GPU finishes, the jobs it had taken but not yet
 * started go back to their lane, and another worker runs them. Nothing is lost or run twice.
 */
describe('a worker shutting down', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('worker-shutdown');
  });
  afterAll(() => api.close());

  it('finishes the job it runs and hands back the ones waiting for a GPU', async () => {
    const key = await api.keyFor('drainer');
    const submit = async () =>
      (
        await request(api.server)
          .post('/generate/image/v1')
          .set('X-API-Key', key)
          .send({ prompt: 'drain', width: 64, height: 64, num_inference_steps: 20 })
      ).body.job_id as string;
    const status = async (jobId: string) =>
      (await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key)).body as {
        status: string;
        attempts: number;
        worker?: string;
      };

    const first: WorkerHarness = await startWorker(api.services, { SIMULATED_STEP_MS: '40' });
    const jobs = [await submit(), await submit(), await submit()];
    await waitFor(() => first.pool.scheduler.waitingCount() === 1, { what: 'one job prepared and waiting' });
    const running = (await Promise.all(jobs.map(status))).findIndex((s) => s.status === 'processing');
    expect(running).toBeGreaterThanOrEqual(0);

    await first.close();
    const afterClose = await Promise.all(jobs.map(status));
    expect(afterClose[running]!.status).toBe('completed');
    expect(afterClose.filter((s) => s.status === 'queued')).toHaveLength(2);

    const second = await startWorker(api.services, { SIMULATED_STEP_MS: '1' });
    try {
      await waitFor(
        async () => (await Promise.all(jobs.map(status))).every((s) => s.status === 'completed'),
        {
          timeoutMs: 10_000,
          what: 'every job to complete on the second worker',
        },
      );
      const final = await Promise.all(jobs.map(status));
      expect(final.map((s) => s.attempts)).toEqual([1, 1, 1]);
    } finally {
      await second.close();
    }
  });
});
