import { randomUUID } from 'node:crypto';
import { type Random, sleep } from '../support/time';
import { type World } from '../world/world';
import { type Answer } from './api-client';
import { type CallbackKind, type Ledger } from './ledger';

export interface LoadPlan {
  seconds: number;
  /** Jobs submitted one by one, over all tenants. */
  singleJobs: number;
  campaignsPerTenant: number;
  /** Jobs per campaign on average; each draws within ±20 % (3 profiles × scenes × 4–8 variants). */
  campaignJobs: number;
  /** Seconds between jobs held on a GPU (per tenant), some cancelled while they run. */
  heldEverySeconds: number;
  heldMs: number;
  tenants: string[];
}

const JOB_BASE = { width: 64, height: 64, output_format: 'png' } as const;
/** How long a submit is retried (same Idempotency-Key) through an outage before it counts as lost (and
 * never past the end of the load phase by more than a few seconds). */
const SUBMIT_PATIENCE_MS = 30_000;

/**
 * The mixed load of a chaos run (issue #8): single jobs with priorities and callbacks, two tenants'
 * campaigns, cancels of queued jobs, of running jobs and of campaigns, idempotent replays. Every submit
 * carries an Idempotency-Key and is retried with it through outages, so what the ledger holds is exactly
 * what the API accepted.
 */
export async function runLoad(world: World, ledger: Ledger, plan: LoadPlan, rng: Random): Promise<void> {
  const started = Date.now();
  const deadline = started + plan.seconds * 1000;
  /** Sleeps at most until the deadline, so no actor outlives the load phase by more than a request. */
  const pause = (ms: number) => sleep(Math.max(0, Math.min(ms, deadline - Date.now())));
  const client = world.client;
  const profiles = new Map<string, string[]>();
  for (const tenant of plan.tenants) profiles.set(tenant, await createProfiles(world, tenant));

  const callbackOf = (kind: CallbackKind | null, tag: string) =>
    kind === 'ok' ? world.receiver.okUrl(tag) : kind === 'flaky' ? world.receiver.flakyUrl(tag) : undefined;
  const pickCallback = (): CallbackKind | null => rng.pick<CallbackKind | null>(['ok', 'flaky', null, null]);

  /** POST that creates work, retried with one Idempotency-Key until answered or out of patience. */
  async function create<T>(path: string, tenant: string, body: unknown, idempotencyKey: string, jobs = 1) {
    ledger.counters.submits += 1;
    const giveUp = Math.min(Date.now() + SUBMIT_PATIENCE_MS, deadline + 5000);
    let retried = false;
    for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
      const answer: Answer<T> = await client.request<T>('POST', path, {
        key: world.keys[tenant],
        body,
        headers: { 'Idempotency-Key': idempotencyKey },
      });
      // 409 here is "a request with this key is still being processed": the first try is still running.
      const transient = answer.status === 0 || answer.status >= 500 || answer.status === 409;
      if (!transient || Date.now() > giveUp) {
        if (retried && answer.status === 202) ledger.counters.retriedSubmits += 1;
        if (answer.status !== 202 && transient) {
          ledger.counters.lostSubmits += 1;
          ledger.counters.lostJobsAtMost += jobs;
        }
        if (answer.status !== 202 && !transient) ledger.counters.rejectedSubmits += 1;
        return answer;
      }
      retried = true;
      await sleep(wait);
    }
  }

  const cancelJob = (tenant: string, jobId: string) =>
    client.request('POST', `/generate/image/v1/cancel/${jobId}`, { key: world.keys[tenant] });

  async function singleJob(tenant: string, n: number, held: boolean) {
    const callback = held ? 'flaky' : pickCallback();
    const priority = rng.chance(0.2) ? rng.int(1, 10) : 0;
    const profileId = rng.chance(0.5) ? rng.pick(profiles.get(tenant)!) : undefined;
    const body = {
      ...JOB_BASE,
      prompt: `chaos ${tenant} ${n}${held ? ` [[hold:${plan.heldMs}]]` : ''}`,
      num_inference_steps: rng.int(2, 8),
      priority,
      ...(profileId && { profile_id: profileId }),
      ...(callback && { callback_url: callbackOf(callback, tenant) }),
      metadata: { n },
    };
    const key = randomUUID();
    const answer = await create<{ job_id: string }>('/generate/image/v1', tenant, body, key);
    if (answer.status !== 202) return;
    const jobId = answer.body.job_id;
    ledger.addJob({ jobId, tenant, source: 'single', campaignId: null, callback, priority, held });
    if (!held && rng.chance(0.04)) {
      ledger.counters.replays += 1;
      const again = await create<{ job_id: string }>('/generate/image/v1', tenant, body, key);
      if (again.status !== 202 || again.body.job_id !== jobId) ledger.counters.replayMismatches += 1;
    }
    if (!held && rng.chance(0.08)) {
      const cancelled = await cancelJob(tenant, jobId);
      ledger.jobs.get(jobId)!.cancel = { kind: 'queued', answer: cancelled.status };
    }
    if (held && rng.chance(0.6)) {
      // Cancel it while it runs: wait until it is seen processing (a kill may move it meanwhile).
      const watchUntil = Math.min(Date.now() + 20_000, deadline);
      while (Date.now() < watchUntil) {
        const status = await client.request<{ status: string }>('GET', `/generate/image/v1/status/${jobId}`, {
          key: world.keys[tenant],
        });
        if (status.body?.status === 'processing') {
          const cancelled = await cancelJob(tenant, jobId);
          ledger.jobs.get(jobId)!.cancel = { kind: 'running', answer: cancelled.status };
          break;
        }
        if (status.body && ['completed', 'failed', 'cancelled'].includes(status.body.status)) break;
        await sleep(100);
      }
    }
  }

  // Single jobs, paced evenly over the load phase by a few submitters per tenant.
  let submitted = 0;
  const singleSubmitter = async (tenant: string) => {
    while (Date.now() < deadline && submitted < plan.singleJobs) {
      const due = (plan.singleJobs * (Date.now() - started)) / (plan.seconds * 1000);
      if (submitted >= due) {
        await sleep(20);
        continue;
      }
      submitted += 1;
      await singleJob(tenant, submitted, false);
    }
  };

  const heldJobs = async (tenant: string) => {
    let n = 0;
    while (Date.now() + plan.heldEverySeconds * 1000 < deadline) {
      await pause(plan.heldEverySeconds * 1000 * (0.5 + rng.next()));
      if (Date.now() >= deadline) break;
      await singleJob(tenant, 1_000_000 + n++, true);
    }
  };

  async function campaign(tenant: string, n: number) {
    const owned = profiles.get(tenant)!;
    const variants = rng.int(4, 8);
    const size = plan.campaignJobs * (0.8 + 0.4 * rng.next());
    const scenes = Math.max(1, Math.round(size / (owned.length * variants)));
    const callback = pickCallback();
    const body = {
      name: `chaos ${tenant} ${n}`,
      profile_ids: owned,
      scenes: Array.from({ length: scenes }, (_, i) => ({
        name: `scene-${i}`,
        prompt: `campaign ${n} scene ${i}`,
        num_inference_steps: rng.int(2, 6),
      })),
      variants,
      priority: rng.chance(0.2) ? rng.int(1, 10) : 0,
      ...(callback && { callback_url: callbackOf(callback, `${tenant}-camp`) }),
    };
    const answer = await create<{ campaign_id: string; job_count: number }>(
      '/campaigns/v1',
      tenant,
      body,
      randomUUID(),
      owned.length * scenes * variants,
    );
    if (answer.status !== 202) return;
    const { campaign_id: campaignId, job_count: jobCount } = answer.body;
    ledger.addCampaign({ campaignId, tenant, source: 'campaign', jobCount, callback });
    const key = world.keys[tenant];
    if (rng.chance(0.35)) {
      // A few of its waiting jobs cancelled one by one, as ordinary jobs (SPEC §7).
      await pause(rng.int(200, 2000));
      const queued = await client.request<{ jobs: { job_id: string }[] }>(
        'GET',
        `/campaigns/v1/${campaignId}/jobs?status=queued&limit=3`,
        { key },
      );
      for (const job of queued.body?.jobs ?? []) {
        const cancelled = await cancelJob(tenant, job.job_id);
        ledger.addJob({
          jobId: job.job_id,
          tenant,
          source: 'campaign',
          campaignId,
          callback,
          priority: body.priority,
          held: false,
        });
        ledger.jobs.get(job.job_id)!.cancel = { kind: 'campaign-job', answer: cancelled.status };
      }
    }
    if (rng.chance(0.25)) {
      await pause(rng.int(1000, 8000));
      const cancelled = await client.request('POST', `/campaigns/v1/${campaignId}/cancel`, { key });
      ledger.campaigns.get(campaignId)!.cancelAnswer = cancelled.status;
    }
  }

  const campaignCreator = async (tenant: string) => {
    // Spread over the first 70 % of the phase, so every campaign runs while faults are injected.
    const spacing = (plan.seconds * 700) / Math.max(1, plan.campaignsPerTenant);
    const running: Promise<void>[] = [];
    for (let n = 0; n < plan.campaignsPerTenant && Date.now() < deadline; n++) {
      running.push(campaign(tenant, n));
      await pause(spacing * (0.5 + rng.next()));
    }
    await Promise.all(running);
  };

  await Promise.all(
    plan.tenants.flatMap((tenant) => [
      singleSubmitter(tenant),
      singleSubmitter(tenant),
      singleSubmitter(tenant),
      heldJobs(tenant),
      campaignCreator(tenant),
    ]),
  );
}

/** Three profiles per tenant, one per seed strategy, small images so the GPU stub stays cheap. */
async function createProfiles(world: World, tenant: string): Promise<string[]> {
  const bodies = [
    { name: 'fixed', prompt_template: 'a fixed face', seed_strategy: 'fixed', fixed_seed: 42 },
    { name: 'random', prompt_template: 'a random face', prompt_template_mode: 'prefix' },
    { name: 'user', prompt_template: 'a chosen face', seed_strategy: 'user' },
  ];
  const ids: string[] = [];
  for (const body of bodies) {
    const answer = await world.client.request<{ profile_id: string }>('POST', '/profiles/v1', {
      key: world.keys[tenant],
      body: { ...body, width: 64, height: 64, steps: 4, output_format: 'png' },
    });
    if (answer.status !== 201) throw new Error(`POST /profiles/v1 for ${tenant}: ${answer.status}`);
    ids.push(answer.body.profile_id);
  }
  return ids;
}
