import { campaignLaneFor, laneFor, redisKeys } from '@castforge/core';
import { type Campaign, type CampaignJob, type JobStatus } from '@castforge/schemas';
import request from 'supertest';
import { type ApiHarness } from './api';
import { waitFor } from './wait';

type Json = Record<string, unknown>;

/** What a tenant does with campaigns over HTTP (SPEC §7), as a client would, through the test's API. */
export function campaignClient(api: ApiHarness, key: string) {
  const http = () => request(api.server);

  const createProfile = async (body: Json): Promise<string> => {
    const res = await http().post('/profiles/v1').set('X-API-Key', key).send(body);
    expect(res.status).toBe(201);
    return res.body.profile_id as string;
  };

  const submit = (body: Json, headers: Record<string, string> = {}) =>
    http().post('/campaigns/v1').set('X-API-Key', key).set(headers).send(body);

  const launch = async (body: Json, headers: Record<string, string> = {}) => {
    const res = await submit(body, headers);
    expect(res.status).toBe(202);
    return res.body as { campaign_id: string; job_count: number; status: string; created_at: string };
  };

  const campaign = async (campaignId: string): Promise<Campaign> => {
    const res = await http().get(`/campaigns/v1/${campaignId}`).set('X-API-Key', key);
    expect(res.status).toBe(200);
    return res.body as Campaign;
  };

  const jobsPage = (campaignId: string, query: string) =>
    http().get(`/campaigns/v1/${campaignId}/jobs?${query}`).set('X-API-Key', key);

  /** Every job of the campaign (of one status, if given), following next_cursor; also how many pages. */
  const allJobs = async (campaignId: string, options: { status?: string; limit?: number } = {}) => {
    const jobs: CampaignJob[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query = new URLSearchParams({ limit: String(options.limit ?? 100) });
      if (options.status) query.set('status', options.status);
      if (cursor !== null) query.set('cursor', cursor);
      const res = await jobsPage(campaignId, query.toString());
      expect(res.status).toBe(200);
      jobs.push(...(res.body.jobs as CampaignJob[]));
      cursor = res.body.next_cursor as string | null;
      pages += 1;
      if (pages > 10_000) throw new Error('next_cursor never ends');
    } while (cursor !== null);
    return { jobs, pages };
  };

  const status = async (jobId: string): Promise<JobStatus> => {
    const res = await http().get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key);
    expect(res.status).toBe(200);
    return res.body as JobStatus;
  };

  const cancel = (campaignId: string) =>
    http().post(`/campaigns/v1/${campaignId}/cancel`).set('X-API-Key', key);
  const cancelJob = (jobId: string) =>
    http().post(`/generate/image/v1/cancel/${jobId}`).set('X-API-Key', key);

  /** Polls the campaign until `accept` holds, and returns it. */
  const until = (campaignId: string, accept: (c: Campaign) => boolean, what: string, timeoutMs = 15_000) =>
    waitFor(
      async () => {
        const c = await campaign(campaignId);
        return accept(c) && c;
      },
      { timeoutMs, intervalMs: 50, what },
    );

  return { createProfile, submit, launch, campaign, jobsPage, allJobs, status, cancel, cancelJob, until };
}
export type CampaignClient = ReturnType<typeof campaignClient>;

/** The cheapest profile defaults a campaign test can run: 64×64, two steps, PNG. */
export const SMALL_PROFILE = { width: 64, height: 64, steps: 2, output_format: 'png' };

/** A tenant of the test's API: its id, its key (issued on first use) and a campaign client using that key. */
export async function campaignTenant(api: ApiHarness, tenantId: string) {
  const key = await api.keyFor(tenantId);
  return { tenantId, key, c: campaignClient(api, key) };
}

/** Creates `count` small profiles "Lead 1" … "Lead <count>" (plus `extra` fields); their ids, in order. */
export const createRoster = (c: CampaignClient, count: number, extra: Json = {}) =>
  Promise.all(
    Array.from({ length: count }, (_, i) =>
      c.createProfile({
        name: `Lead ${i + 1}`,
        prompt_template: `lead number ${i + 1}`,
        ...SMALL_PROFILE,
        ...extra,
      }),
    ),
  );

/**
 * Jobs a BullMQ lane holds waiting, running, delayed or prioritized, read from BullMQ's own keys (a `Queue`
 * object would write the lane's `meta` key just by being opened, and so change what the tests look at).
 */
export async function bullJobsIn(api: ApiHarness, lane: string): Promise<number> {
  const tenantId = lane.split('.')[1]!;
  const bull = redisKeys(api.services.prefix).forTenant(tenantId).bull(lane);
  const [wait, paused, active, delayed, prioritized] = await api.services.redis
    .multi()
    .llen(bull.wait)
    .llen(bull.paused)
    .llen(bull.active)
    .zcard(bull.delayed)
    .zcard(bull.prioritized)
    .exec()
    .then((replies) => (replies ?? []).map(([err, n]) => (err ? Promise.reject(err) : Number(n))));
  return [wait, paused, active, delayed, prioritized].reduce<number>((a, b) => a + Number(b), 0);
}

/** Keys BullMQ keeps per queue (besides one hash per job), and the project's own keys per lane. */
const BULL_QUEUE_KEYS = [
  'id',
  'meta',
  'wait',
  'paused',
  'active',
  'delayed',
  'prioritized',
  'events',
  'marker',
];

/**
 * Everything a tenant has in the stores that a campaign would have created: its campaigns in MongoDB, the
 * Redis keys of its lanes (BullMQ's and the project's), the campaigns waiting in its campaign lane, its lanes
 * in the lane set, its in-flight counter, and the deployment's queued-jobs counter. Every key is read by name
 * (no SCAN: the shared Redis holds other people's keys too).
 */
export async function footprint(api: ApiHarness, tenantId: string) {
  const b = redisKeys(api.services.prefix).forTenant(tenantId);
  const redis = api.services.redis;
  const lanes = Object.values(lanesOf(tenantId));
  const candidates = lanes.flatMap((lane) => [
    b.laneSeq(lane),
    b.laneQueue(lane),
    ...BULL_QUEUE_KEYS.map((name) => `${b.bullPrefix}:${lane}:${name}`),
  ]);
  const exists = await Promise.all(candidates.map((k) => redis.exists(k)));
  const ready = await redis.zrange(b.ready, 0, -1);
  const campaigns = await redis.zrange(b.campaigns, 0, -1);
  const mine = await Promise.all(campaigns.map((id) => redis.hget(b.campaign(id), 'tenant')));
  return {
    mongoCampaigns: await api.services.mongo.collection('campaigns').countDocuments({ tenant_id: tenantId }),
    laneKeys: candidates.filter((_, i) => exists[i] === 1),
    liveCampaigns: campaigns.filter((_, i) => mine[i] === tenantId),
    lanes: lanes.filter((lane) => ready.includes(lane)),
    inFlight: Number((await redis.hget(b.inflight, tenantId)) ?? 0),
    queuedInBucket: Number((await redis.hget(b.stats, 'queued')) ?? 0),
  };
}

/** The lanes of a tenant: single jobs, priority jobs, campaigns. */
export const lanesOf = (tenantId: string) => ({
  single: laneFor(tenantId, 0),
  high: laneFor(tenantId, 1),
  campaign: campaignLaneFor(tenantId),
});

/** The live campaign hash in Redis, as stored. */
export const campaignHash = (api: ApiHarness, tenantId: string, campaignId: string) =>
  api.services.redis.hgetall(redisKeys(api.services.prefix).forTenant(tenantId).campaign(campaignId));
