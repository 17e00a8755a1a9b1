import { type ApiHarness, type WorkerHarness, startApi, startWorker, waitFor } from '@castforge/testkit';
import request from 'supertest';

describe('campaign smoke', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  beforeAll(async () => {
    api = await startApi('camp-smoke');
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '2' });
  });
  afterAll(async () => {
    await worker.close();
    await api.close();
  });

  it('runs a scene across five profiles and counts add up', async () => {
    const key = await api.keyFor('caster');
    const ids: string[] = [];
    for (const [name, fixed] of [
      ['A', 1],
      ['B', 2],
      ['C', 3],
      ['D', 4],
      ['E', 5],
    ] as const) {
      const res = await request(api.server)
        .post('/profiles/v1')
        .set('X-API-Key', key)
        .send({
          name,
          prompt_template: `${name} identity`,
          seed_strategy: 'fixed',
          fixed_seed: fixed,
          width: 64,
          height: 64,
          steps: 2,
        });
      ids.push(res.body.profile_id);
    }
    const created = await request(api.server)
      .post('/campaigns/v1')
      .set('X-API-Key', key)
      .send({
        name: 'casting',
        profile_ids: ids,
        scenes: [{ prompt: 'on a rooftop', name: 'rooftop' }],
        variants: 2,
      });
    expect(created.status).toBe(202);
    expect(created.body.job_count).toBe(10);
    const cid = created.body.campaign_id as string;
    const first = await request(api.server).get(`/campaigns/v1/${cid}/jobs?limit=3`).set('X-API-Key', key);
    expect(first.body.jobs).toHaveLength(3);
    await waitFor(
      async () =>
        (await request(api.server).get(`/campaigns/v1/${cid}`).set('X-API-Key', key)).body.status ===
        'completed',
      { timeoutMs: 15_000, what: 'the campaign to complete' },
    );
    const done = await request(api.server).get(`/campaigns/v1/${cid}`).set('X-API-Key', key);
    expect(done.body.counts).toEqual({
      queued: 0,
      pending: 0,
      processing: 0,
      completed: 10,
      failed: 0,
      cancelled: 0,
    });
    const jobs = await request(api.server).get(`/campaigns/v1/${cid}/jobs?limit=100`).set('X-API-Key', key);
    expect(jobs.body.jobs).toHaveLength(10);
    expect(jobs.body.jobs[1]).toMatchObject({
      status: 'completed',
      seed: 2,
      prompt: 'on a rooftop, A identity',
      variant: 1,
    });
    expect(jobs.body.jobs[2]).toMatchObject({
      seed: 2,
      prompt: 'on a rooftop, B identity',
      profile_index: 1,
    });
    const completed = await request(api.server)
      .get(`/campaigns/v1/${cid}/jobs?status=completed&limit=4`)
      .set('X-API-Key', key);
    expect(completed.body.jobs).toHaveLength(4);
    expect(completed.body.next_cursor).toBe('4');
    const list = await request(api.server).get('/campaigns/v1').set('X-API-Key', key);
    expect(list.body.campaigns[0].campaign_id).toBe(cid);
  });

  it('cancels half-way with counts that add up', async () => {
    const key = await api.keyFor('canceller');
    const profile = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', key)
      .send({ name: 'x', width: 64, height: 64 });
    await worker.close();
    const created = await request(api.server)
      .post('/campaigns/v1')
      .set('X-API-Key', key)
      .send({
        name: 'big',
        profile_ids: [profile.body.profile_id],
        scenes: [{ prompt: 'p', num_inference_steps: 50 }],
        variants: 16,
      });
    const cid = created.body.campaign_id as string;
    const jobs = await request(api.server).get(`/campaigns/v1/${cid}/jobs?limit=2`).set('X-API-Key', key);
    const single = await request(api.server)
      .get(`/generate/image/v1/status/${jobs.body.jobs[1].job_id}`)
      .set('X-API-Key', key);
    expect(single.body).toMatchObject({ status: 'queued', campaign_id: cid, queue_position: 1 });
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '20' });
    await waitFor(
      async () =>
        (await request(api.server).get(`/campaigns/v1/${cid}`).set('X-API-Key', key)).body.counts.completed >=
        2,
      { timeoutMs: 15_000, what: 'some jobs to complete' },
    );
    const cancelled = await request(api.server).post(`/campaigns/v1/${cid}/cancel`).set('X-API-Key', key);
    expect(cancelled.status).toBe(202);
    await waitFor(
      async () =>
        (await request(api.server).get(`/campaigns/v1/${cid}`).set('X-API-Key', key)).body.status ===
        'cancelled',
      { timeoutMs: 5000, what: 'the campaign to end cancelled' },
    );
    const final = (await request(api.server).get(`/campaigns/v1/${cid}`).set('X-API-Key', key)).body;
    const c = final.counts;
    expect(c.queued + c.pending + c.processing).toBe(0);
    expect(c.completed + c.failed + c.cancelled).toBe(16);
    expect(c.cancelled).toBeGreaterThan(0);
    const last = await request(api.server)
      .get(`/generate/image/v1/status/${jobs.body.jobs[0].job_id}`)
      .set('X-API-Key', key);
    expect(['completed', 'cancelled']).toContain(last.body.status);
    const again = await request(api.server).post(`/campaigns/v1/${cid}/cancel`).set('X-API-Key', key);
    expect(again.status).toBe(409);
  });
});
