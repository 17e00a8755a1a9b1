/**
 * How a profile shapes a job (SPEC §3), as the status of a finished job reports it: the three prompt
 * template modes, the `{{ user_prompt }}` slot, and the three seed strategies.
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import { type JobStatus, MAX_SEED } from '@castforge/schemas';
import request from 'supertest';

const SMALL = { width: 64, height: 64, steps: 2, output_format: 'png' } as const;

describe('prompt modes and seed strategies, through the worker', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let key: string;

  beforeAll(async () => {
    api = await startApi('story-generation-modes');
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '1', INFERENCE_CONCURRENCY: '2' });
    key = await api.keyFor('modes');
  });
  afterAll(async () => {
    await worker.close();
    await api.close();
  });

  const createProfile = async (fields: Record<string, unknown>) => {
    const res = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', key)
      .send({ name: 'Shaping', ...SMALL, ...fields });
    expect(res.status).toBe(201);
    return res.body.profile_id as string;
  };
  /** Submits a job and returns its status once it completed. */
  const run = async (body: Record<string, unknown>): Promise<JobStatus> => {
    const submitted = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ width: 64, height: 64, num_inference_steps: 2, ...body });
    expect(submitted.status).toBe(202);
    const jobId = submitted.body.job_id as string;
    return waitFor(
      async () => {
        const res = await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key);
        const status = res.body as JobStatus;
        if (status.status === 'failed' || status.status === 'cancelled') throw new Error(status.status);
        return status.status === 'completed' && status;
      },
      { timeoutMs: 15_000, what: `job ${jobId} to complete` },
    );
  };
  const isSeed = (seed: number | null) => Number.isInteger(seed) && seed! >= 0 && seed! <= MAX_SEED;

  describe('prompt_template_mode', () => {
    it.each([
      ['suffix', 'a portrait in a cafe', 'blue eyes, freckles', 'a portrait in a cafe, blue eyes, freckles'],
      ['prefix', 'a portrait in a cafe', 'blue eyes, freckles', 'blue eyes, freckles, a portrait in a cafe'],
      ['replace', 'a portrait in a cafe', 'blue eyes, freckles', 'blue eyes, freckles'],
      ['suffix', 'a portrait in a cafe, ', ' , blue eyes', 'a portrait in a cafe, blue eyes'],
      ['prefix', ' ,a portrait in a cafe', 'blue eyes ,, ', 'blue eyes, a portrait in a cafe'],
    ])('in %s mode joins %j and the template %j as %j', async (mode, prompt, template, expected) => {
      const profileId = await createProfile({ prompt_template: template, prompt_template_mode: mode });
      const status = await run({ prompt, profile_id: profileId });
      expect(status.prompt).toBe(expected);
    });

    it('in replace mode runs a job that sends no prompt at all with the template alone', async () => {
      const profileId = await createProfile({
        prompt_template: 'studio headshot, blue eyes',
        prompt_template_mode: 'replace',
      });
      const status = await run({ profile_id: profileId });
      expect(status.prompt).toBe('studio headshot, blue eyes');
    });

    it.each([
      ['{{ user_prompt }}', 'prefix'],
      ['{{user_prompt}}', 'suffix'],
      ['{{   user_prompt }}', 'replace'],
    ])('puts the prompt where the template says %s, whatever the mode (%s)', async (slot, mode) => {
      const profileId = await createProfile({
        prompt_template: `photo of ${slot}, blue eyes, 35mm film`,
        prompt_template_mode: mode,
      });
      const status = await run({ prompt: 'a woman reading', profile_id: profileId });
      expect(status.prompt).toBe('photo of a woman reading, blue eyes, 35mm film');
    });

    it('uses the prompt as sent when the job names no profile', async () => {
      const status = await run({ prompt: 'a lighthouse at dawn' });
      expect(status.prompt).toBe('a lighthouse at dawn');
    });
  });

  describe('seed_strategy', () => {
    it('fixed: uses the profile fixed_seed whatever seed the request sends', async () => {
      const profileId = await createProfile({ seed_strategy: 'fixed', fixed_seed: 7 });
      const seeds = [];
      for (const seed of [123, -1, undefined])
        seeds.push((await run({ prompt: 'p', profile_id: profileId, seed })).seed);
      expect(seeds).toEqual([7, 7, 7]);
    });

    it('user: uses the request seed when it is given', async () => {
      const profileId = await createProfile({ seed_strategy: 'user' });
      expect((await run({ prompt: 'p', profile_id: profileId, seed: 123 })).seed).toBe(123);
      expect((await run({ prompt: 'p', profile_id: profileId, seed: 0 })).seed).toBe(0);
    });

    it('user: picks a fresh random seed for -1 or no seed, and reports it', async () => {
      const profileId = await createProfile({ seed_strategy: 'user' });
      const seeds = [
        (await run({ prompt: 'p', profile_id: profileId, seed: -1 })).seed,
        (await run({ prompt: 'p', profile_id: profileId, seed: -1 })).seed,
        (await run({ prompt: 'p', profile_id: profileId })).seed,
      ];
      expect(seeds.every(isSeed)).toBe(true);
      expect(new Set(seeds).size).toBe(3);
    });

    it('random: uses the request seed when it is 0 or more', async () => {
      const profileId = await createProfile({ seed_strategy: 'random' });
      expect((await run({ prompt: 'p', profile_id: profileId, seed: 4_294_967_295 })).seed).toBe(
        4_294_967_295,
      );
    });

    it('random: two runs with -1 get different random seeds', async () => {
      const profileId = await createProfile({ seed_strategy: 'random' });
      const first = await run({ prompt: 'p', profile_id: profileId, seed: -1 });
      const second = await run({ prompt: 'p', profile_id: profileId, seed: -1 });
      expect(isSeed(first.seed) && isSeed(second.seed)).toBe(true);
      expect(second.seed).not.toBe(first.seed);
    });

    it('is random by default: a profile without a strategy and a job without a profile behave alike', async () => {
      const profileId = await createProfile({});
      expect((await run({ prompt: 'p', profile_id: profileId, seed: 99 })).seed).toBe(99);
      expect((await run({ prompt: 'p', seed: 5 })).seed).toBe(5);
      const a = await run({ prompt: 'p' });
      const b = await run({ prompt: 'p', seed: -1 });
      expect(isSeed(a.seed) && isSeed(b.seed)).toBe(true);
      expect(b.seed).not.toBe(a.seed);
    });
  });
});
