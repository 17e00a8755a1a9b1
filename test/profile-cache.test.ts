/**
 * Profile versions are immutable, so a worker reads each one from MongoDB once (docs/architecture.md, "A job
 * in the worker"): a hundred jobs over five casting profiles cost five reads, not a hundred. The worker's
 * profile_cache_{hits,misses}_total counters say how often it went to MongoDB.
 */
import { type ApiHarness, type WorkerHarness, jobEnded, startApi, startWorker } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import { type JobStatus } from '@castforge/schemas';
import request from 'supertest';

const PROFILES = 5;
const JOBS = 100;

describe('the worker profile cache', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  beforeAll(async () => {
    api = await startApi('story-profile-cache');
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '0', INFERENCE_CONCURRENCY: '4' });
  });
  afterAll(async () => {
    await worker.close();
    await api.close();
  });

  const counter = async (metric: { get(): Promise<{ values: { value: number }[] }> }) =>
    (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);

  it('reads MongoDB once per profile version for 100 jobs over 5 profiles', async () => {
    const key = await api.keyFor('cache');
    const profileIds: string[] = [];
    for (let i = 0; i < PROFILES; i++) {
      const res = await request(api.server)
        .post('/profiles/v1')
        .set('X-API-Key', key)
        .send({
          name: `Cast member ${i}`,
          prompt_template: `cast member ${i}`,
          seed_strategy: 'fixed',
          fixed_seed: i,
          width: 64,
          height: 64,
          steps: 1,
          output_format: 'png',
        });
      expect(res.status).toBe(201);
      profileIds.push(res.body.profile_id as string);
    }

    const jobIds: string[] = [];
    for (let start = 0; start < JOBS; start += 10) {
      const batch = await Promise.all(
        Array.from({ length: 10 }, (_, offset) =>
          request(api.server)
            .post('/generate/image/v1')
            .set('X-API-Key', key)
            .send({ prompt: 'a crowd scene', profile_id: profileIds[(start + offset) % PROFILES] }),
        ),
      );
      for (const res of batch) {
        expect(res.status).toBe(202);
        jobIds.push(res.body.job_id as string);
      }
    }

    const finals: JobStatus[] = [];
    for (const jobId of jobIds) {
      finals.push(await jobEnded(api, key, jobId, { timeoutMs: 30_000 }));
    }
    expect(finals.filter((s) => s.status !== 'completed')).toEqual([]);
    // Every job ran with its own profile: the right identity and that profile's fixed seed.
    finals.forEach((status, index) => {
      const member = index % PROFILES;
      expect({ prompt: status.prompt, seed: status.seed }).toEqual({
        prompt: `a crowd scene, cast member ${member}`,
        seed: member,
      });
    });

    expect(await counter(worker.pool.metrics.cacheMisses)).toBe(PROFILES);
    expect(await counter(worker.pool.metrics.cacheHits)).toBe(JOBS - PROFILES);
  });

  it('reads a profile once more after a PATCH, and runs later jobs with the new version', async () => {
    const key = await api.keyFor('cache-edited');
    const created = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', key)
      .send({ name: 'Edited lead', prompt_template: 'auburn hair', width: 64, height: 64, steps: 1 });
    expect(created.status).toBe(201);
    const profileId = created.body.profile_id as string;
    const runTwice = async () => {
      const statuses: JobStatus[] = [];
      for (let i = 0; i < 2; i++) {
        const res = await request(api.server)
          .post('/generate/image/v1')
          .set('X-API-Key', key)
          .send({ prompt: 'a close-up', profile_id: profileId });
        expect(res.status).toBe(202);
        const jobId = res.body.job_id as string;
        statuses.push(
          await waitFor(
            async () => {
              const status = (
                await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key)
              ).body as JobStatus;
              return status.status === 'completed' && status;
            },
            { what: `job ${jobId} to complete` },
          ),
        );
      }
      return statuses.map((s) => `v${s.profile_version}: ${s.prompt}`);
    };
    const missesBefore = await counter(worker.pool.metrics.cacheMisses);

    expect(await runTwice()).toEqual(['v1: a close-up, auburn hair', 'v1: a close-up, auburn hair']);
    const edited = await request(api.server)
      .patch(`/profiles/v1/${profileId}`)
      .set('X-API-Key', key)
      .send({ prompt_template: 'platinum hair' });
    expect(edited.status).toBe(200);
    expect(await runTwice()).toEqual(['v2: a close-up, platinum hair', 'v2: a close-up, platinum hair']);

    expect((await counter(worker.pool.metrics.cacheMisses)) - missesBefore).toBe(2);
  });
});
