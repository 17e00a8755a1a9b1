/**
 * A job pins the profile version current when it was submitted (SPEC §2, "Versions are immutable"): editing
 * or deleting the profile while the job waits in the queue never changes or breaks it. The worker is held
 * back (started only after the edit) so the jobs are certainly still queued when the profile changes.
 */
import {
  type ApiHarness,
  type WorkerHarness,
  expectError,
  jobEnded,
  locsOf,
  startApi,
  startWorker,
} from '@castforge/testkit';
import { type JobStatus } from '@castforge/schemas';
import request from 'supertest';

describe('a queued job keeps the profile version it was submitted with', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  let key: string;

  beforeAll(async () => {
    api = await startApi('story-profile-pinning');
    key = await api.keyFor('pinning');
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
  });
  afterAll(() => api.close());

  const startTheWorker = async () => {
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '1' });
  };
  const createProfile = async () => {
    const res = await request(api.server).post('/profiles/v1').set('X-API-Key', key).send({
      name: 'Red-haired lead',
      prompt_template: 'red hair, green eyes',
      seed_strategy: 'fixed',
      fixed_seed: 1111,
      width: 64,
      height: 64,
      steps: 2,
      output_format: 'png',
    });
    expect(res.status).toBe(201);
    return res.body.profile_id as string;
  };
  const patchProfile = async (profileId: string, body: Record<string, unknown>) => {
    const res = await request(api.server).patch(`/profiles/v1/${profileId}`).set('X-API-Key', key).send(body);
    expect(res.status).toBe(200);
    return res.body.version as number;
  };
  const deleteProfile = async (profileId: string) => {
    const res = await request(api.server).delete(`/profiles/v1/${profileId}`).set('X-API-Key', key);
    expect(res.status).toBe(204);
  };
  const submit = (body: Record<string, unknown>) =>
    request(api.server).post('/generate/image/v1').set('X-API-Key', key).send(body);
  const submitScene = async (profileId: string) => {
    const res = await submit({ prompt: 'on a pier at night', profile_id: profileId, seed: 5 });
    expect(res.status).toBe(202);
    return res.body.job_id as string;
  };
  const statusOf = async (jobId: string) =>
    (await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key))
      .body as JobStatus;
  const ended = (jobId: string) => jobEnded(api, key, jobId, { timeoutMs: 15_000 });

  it('runs a job queued before a PATCH with the old template and seed, and a later job with the new ones', async () => {
    const profileId = await createProfile();
    const before = await submitScene(profileId);
    expect(await statusOf(before)).toMatchObject({ status: 'queued', profile_version: 1 });

    expect(
      await patchProfile(profileId, { prompt_template: 'black hair, brown eyes', fixed_seed: 2222 }),
    ).toBe(2);
    const after = await submitScene(profileId);
    expect(await statusOf(after)).toMatchObject({ status: 'queued', profile_version: 2, queue_position: 1 });
    expect(await statusOf(before)).toMatchObject({ status: 'queued', profile_version: 1, queue_position: 0 });
    await startTheWorker();

    expect(await ended(before)).toMatchObject({
      status: 'completed',
      profile_id: profileId,
      profile_version: 1,
      prompt: 'on a pier at night, red hair, green eyes',
      seed: 1111,
    });
    expect(await ended(after)).toMatchObject({
      status: 'completed',
      profile_version: 2,
      prompt: 'on a pier at night, black hair, brown eyes',
      seed: 2222,
    });
  });

  it('still completes a job queued before its profile was deleted, with the version it pinned', async () => {
    const profileId = await createProfile();
    const jobId = await submitScene(profileId);
    await deleteProfile(profileId);
    expect((await request(api.server).get(`/profiles/v1/${profileId}`).set('X-API-Key', key)).status).toBe(
      404,
    );
    await startTheWorker();

    expect(await ended(jobId)).toMatchObject({
      status: 'completed',
      profile_id: profileId,
      profile_version: 1,
      prompt: 'on a pier at night, red hair, green eyes',
      seed: 1111,
      error: null,
    });
  });

  it('still completes a job pinned to an older version after the profile was edited and then deleted', async () => {
    const profileId = await createProfile();
    const jobId = await submitScene(profileId);
    await patchProfile(profileId, {
      prompt_template: 'silver hair',
      seed_strategy: 'user',
      fixed_seed: null,
    });
    await deleteProfile(profileId);
    await startTheWorker();

    expect(await ended(jobId)).toMatchObject({
      status: 'completed',
      profile_version: 1,
      prompt: 'on a pier at night, red hair, green eyes',
      seed: 1111,
    });
  });

  it('refuses a new job naming a deleted profile with 422 INPUT_INVALID on profile_id, and queues nothing', async () => {
    const profileId = await createProfile();
    await deleteProfile(profileId);
    const res = await submit({ prompt: 'on a pier at night', profile_id: profileId });
    const body = expectError(res, 'INPUT_INVALID');
    expect(locsOf(body)).toEqual(['body.profile_id']);
    expect(await api.deps.jobs.stateCounts()).toEqual({ queued: 0, processing: 0, pending: 0 });
  });
});
