/**
 * Fair share (SPEC §7, issue #5): one tenant's large campaign must not starve another tenant's jobs or an
 * ordinary single job. Tenant A queues a 2000-job campaign that two simulated GPUs would need about two
 * minutes to work through; tenant B's single job and B's small campaign, and A's own single job, then finish
 * after a handful of A's jobs, while A still has more than 90 % of its campaign queued. "A handful" is
 * measured in A's jobs, not in seconds, so a slow machine changes nothing. And the campaign's status stays
 * exact at that size: its counts always add up to its job count.
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import { type CampaignClient, campaignClient, campaignHash } from '@castforge/testkit/campaigns';
import { waitFor } from '@castforge/testkit/wait';
import { type Campaign, type CampaignJob, type JobStatus } from '@castforge/schemas';
import request from 'supertest';

/** 12 steps × 10 ms = 120 ms a job; 2000 jobs on two GPUs ≈ 2 minutes. */
const STEPS = 12;
const BIG = { scenes: 125, variants: 16 };
const JOB_COUNT = BIG.scenes * BIG.variants;
/** A's jobs that may end while another job waits for its turn: those on the GPUs and prepared, and slack. */
const A_HANDFUL = 50;

describe('fair share while a large campaign is queued', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  let a: CampaignClient;
  let big: { campaign_id: string; job_count: number };

  beforeAll(async () => {
    api = await startApi('story-campaign-fair-share');
    a = campaignClient(api, await api.keyFor('big-studio'));
    const profileId = await a.createProfile({
      name: 'Extra',
      prompt_template: 'a crowd extra',
      width: 64,
      height: 64,
      steps: STEPS,
      output_format: 'png',
    });
    big = await a.launch({
      name: 'Crowd scenes',
      profile_ids: [profileId],
      scenes: Array.from({ length: BIG.scenes }, (_, i) => ({
        name: `shot-${i}`,
        prompt: `crowd shot ${i}`,
      })),
      variants: BIG.variants,
    });
  });
  afterAll(async () => {
    await a.cancel(big.campaign_id);
    await worker?.close();
    await api.close();
  });

  const bigNow = () => a.campaign(big.campaign_id);
  const small = { width: 64, height: 64, num_inference_steps: STEPS, output_format: 'png' };
  const submitSingle = async (key: string, prompt: string) => {
    const res = await request(api.server)
      .post('/generate/image/v1')
      .set('X-API-Key', key)
      .send({ prompt, ...small });
    expect(res.status).toBe(202);
    return res.body.job_id as string;
  };
  const statusOf = async (key: string, jobId: string) =>
    (await request(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key))
      .body as JobStatus;
  /** Waits for a job to complete and returns A's campaign as it was at that moment. */
  const completedWhileBigWaits = (key: string, jobId: string) =>
    waitFor(
      async () => {
        const status = await statusOf(key, jobId);
        if (status.status !== 'completed') {
          expect(status.status).not.toMatch(/failed|cancelled/);
          return false;
        }
        return { status, bigAtThatTime: await bigNow() };
      },
      { timeoutMs: 20_000, intervalMs: 20, what: `job ${jobId} to complete` },
    );
  const expectLittleOfBigDone = (before: Campaign, after: Campaign) => {
    expect(after.status).toBe('running');
    expect(after.counts.queued).toBeGreaterThan(0.9 * JOB_COUNT);
    expect(after.counts.completed - before.counts.completed).toBeLessThan(A_HANDFUL);
  };

  it('answers the queued campaign from its Redis hash: 2000 jobs counted, its first and last jobs in their places', async () => {
    const view = await bigNow();
    expect(view).toMatchObject({
      status: 'running',
      job_count: JOB_COUNT,
      profile_count: 1,
      scene_count: BIG.scenes,
      variants: BIG.variants,
      progress: 0,
      finished_at: null,
      counts: { queued: JOB_COUNT, pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 },
    });
    const hash = await campaignHash(api, 'big-studio', big.campaign_id);
    expect(Object.fromEntries(Object.keys(view.counts).map((name) => [name, Number(hash[name])]))).toEqual(
      view.counts,
    );
    const keyA = await api.keyFor('big-studio');
    const [first] = (await a.jobsPage(big.campaign_id, 'limit=1')).body.jobs as CampaignJob[];
    const [last] = (await a.jobsPage(big.campaign_id, `limit=1&cursor=${JOB_COUNT - 1}`)).body
      .jobs as CampaignJob[];
    expect(await statusOf(keyA, first!.job_id)).toMatchObject({ status: 'queued', queue_position: 0 });
    expect(await statusOf(keyA, last!.job_id)).toMatchObject({
      status: 'queued',
      queue_position: JOB_COUNT - 1,
      campaign_id: big.campaign_id,
    });
  });

  describe('once two GPUs work through it', () => {
    beforeAll(async () => {
      worker = await startWorker(api.services, {
        INFERENCE_URLS: 'simulated://0,simulated://1',
        SIMULATED_STEP_MS: '10',
      });
      await a.until(big.campaign_id, (x) => x.counts.completed >= 4, "A's campaign to be under way");
    });

    it("finishes another tenant's single job after a handful of the campaign's jobs, not after its backlog", async () => {
      const keyB = await api.keyFor('small-studio');
      const before = await bigNow();
      const jobId = await submitSingle(keyB, 'a single portrait');
      const { status, bigAtThatTime } = await completedWhileBigWaits(keyB, jobId);
      expect(status).toMatchObject({ status: 'completed', campaign_id: null });
      expectLittleOfBigDone(before, bigAtThatTime);
    });

    it("finishes another tenant's small campaign while the large one is still more than 90 % queued", async () => {
      const b = campaignClient(api, await api.keyFor('small-studio-2'));
      const profileId = await b.createProfile({
        name: 'Lead',
        prompt_template: 'the lead',
        width: 64,
        height: 64,
      });
      const before = await bigNow();
      const small3 = await b.launch({
        name: 'Three shots',
        profile_ids: [profileId],
        scenes: [{ prompt: 'shot one', num_inference_steps: STEPS }],
        variants: 3,
      });
      const done = await b.until(
        small3.campaign_id,
        (x) => x.status !== 'running',
        'the small campaign to end',
        20_000,
      );
      const bigAtThatTime = await bigNow();
      expect(done).toMatchObject({ status: 'completed', counts: expect.objectContaining({ completed: 3 }) });
      expectLittleOfBigDone(before, bigAtThatTime);
    });

    it("runs the campaign owner's own single job in turn with its campaign, not behind it", async () => {
      const keyA = await api.keyFor('big-studio');
      const before = await bigNow();
      const jobId = await submitSingle(keyA, 'a quick test shot');
      const { status, bigAtThatTime } = await completedWhileBigWaits(keyA, jobId);
      expect(status).toMatchObject({ status: 'completed', campaign_id: null });
      expectLittleOfBigDone(before, bigAtThatTime);
    });

    it('answers the large campaign with counts that always add up to its job count, and its last job with its place in line', async () => {
      const keyA = await api.keyFor('big-studio');
      const page = await a.jobsPage(big.campaign_id, `limit=1&cursor=${JOB_COUNT - 1}`);
      const lastJob = (page.body.jobs as CampaignJob[])[0]!;
      expect(lastJob.campaign_index).toBe(JOB_COUNT - 1);
      for (let i = 0; i < 5; i++) {
        const earlier = await bigNow();
        const last = await statusOf(keyA, lastJob.job_id);
        const later = await bigNow();
        for (const x of [earlier, later]) {
          const c = x.counts;
          expect(c.queued + c.pending + c.processing + c.completed + c.failed + c.cancelled).toBe(JOB_COUNT);
          expect(x.progress).toBe(
            Math.round((1000 * (c.completed + c.failed + c.cancelled)) / JOB_COUNT) / 10,
          );
          expect(x.eta_seconds).toEqual(expect.any(Number));
        }
        // Jobs start in index order, so the last job has every other queued job ahead of it.
        expect(last).toMatchObject({ status: 'queued', campaign_id: big.campaign_id });
        expect(last.queue_position).toBeLessThanOrEqual(earlier.counts.queued - 1);
        expect(last.queue_position).toBeGreaterThanOrEqual(later.counts.queued - 1);
      }
    });
  });
});
