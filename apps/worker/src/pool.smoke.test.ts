import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import request from 'supertest';

describe('generation smoke', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  beforeAll(async () => {
    api = await startApi('gen-smoke');
    worker = await startWorker(api.services);
  });
  afterAll(async () => {
    await worker.close();
    await api.close();
  });

  it('runs a job to completion and serves its image', async () => {
    const key = await api.keyFor('t1');
    const submitted = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ prompt: 'a cat', width: 256, height: 256, num_inference_steps: 4, output_format: 'png' });
    expect(submitted.status).toBe(202);
    const deadline = Date.now() + 10_000;
    let status: request.Response;
    do {
      status = await request(api.server)
        .get(`/generate/image/v1/status/${submitted.body.job_id}`)
        .set('X-API-Key', key);
      if (status.body.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < deadline);
    expect(status.body.status).toBe('completed');
    const url = new URL(status.body.result_url);
    const image = await request(api.server).get(url.pathname + url.search);
    expect(image.status).toBe(200);
    expect(image.headers['content-type']).toBe('image/png');
  });
});
