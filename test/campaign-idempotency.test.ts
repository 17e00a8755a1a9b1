/**
 * A retried campaign submission (SPEC §3 Idempotency-Key, §7; issue #5): the same key with the same body
 * returns the first answer and creates nothing new — no second campaign in MongoDB, no BullMQ job, no count
 * moved; the same key with another body is a 409; identical submissions sent at once make one campaign. No
 * worker runs in this file, so what Redis holds is exactly what the API enqueued.
 */
import { type ApiHarness, expectError, startApi } from '@castforge/testkit';
import {
  bullJobsIn,
  campaignHash,
  footprint,
  lanesOf,
  campaignTenant,
  createRoster,
} from '@castforge/testkit/campaigns';

describe('POST /campaigns/v1 with an Idempotency-Key', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await startApi('story-campaign-idempotency');
  });
  afterAll(() => api.close());

  const tenant = (tenantId: string) => campaignTenant(api, tenantId);

  it('answers a retry with the first response and creates no second campaign, job or count', async () => {
    const { tenantId, c } = await tenant('idem-retry');
    const profileIds = await createRoster(c, 2);
    const body = {
      name: 'Harbour casting',
      profile_ids: profileIds,
      scenes: [
        { name: 'pier', prompt: 'on a pier at dawn' },
        { name: 'market', prompt: 'in a fish market' },
      ],
      variants: 3,
    };
    const first = await c.submit(body, { 'Idempotency-Key': 'harbour-2026-11' });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ job_count: 12, status: 'running' });
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const campaignId = first.body.campaign_id as string;
    const lane = lanesOf(tenantId).campaign;
    const jobIds = (await c.allJobs(campaignId)).jobs.map((j) => j.job_id);
    const stored = {
      footprint: await footprint(api, tenantId),
      bullJobs: await bullJobsIn(api, lane),
      hash: await campaignHash(api, tenantId, campaignId),
    };
    expect(stored.footprint).toMatchObject({
      mongoCampaigns: 1,
      inFlight: 12,
      liveCampaigns: [campaignId],
    });
    expect(stored.bullJobs).toBe(12);
    expect(jobIds).toHaveLength(12);

    // The same request again, its fields in another order (the same JSON body), as a client retrying it.
    const { variants, scenes, ...rest } = body;
    const retry = await c.submit({ variants, scenes, ...rest }, { 'Idempotency-Key': 'harbour-2026-11' });
    expect(retry.status).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toEqual(first.body);

    expect(await footprint(api, tenantId)).toEqual(stored.footprint);
    expect(await bullJobsIn(api, lane)).toBe(12);
    expect(await campaignHash(api, tenantId, campaignId)).toEqual(stored.hash);
    expect((await c.allJobs(campaignId)).jobs.map((j) => j.job_id)).toEqual(jobIds);
    expect((await c.campaign(campaignId)).counts).toEqual({
      queued: 12,
      pending: 0,
      processing: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
    });
  });

  it('answers the same key with a different body 409 CONFLICT, and creates nothing', async () => {
    const { tenantId, c } = await tenant('idem-conflict');
    const profileIds = await createRoster(c, 1);
    const body = {
      name: 'Rooftop',
      profile_ids: profileIds,
      scenes: [{ prompt: 'on a rooftop' }],
      variants: 2,
    };
    await c.launch(body, { 'Idempotency-Key': 'rooftop-key' });
    const before = await footprint(api, tenantId);
    const bullBefore = await bullJobsIn(api, lanesOf(tenantId).campaign);

    const other = await c.submit({ ...body, variants: 3 }, { 'Idempotency-Key': 'rooftop-key' });
    const error = expectError(other, 'CONFLICT');
    expect(error.message).toMatch(/Idempotency-Key/);

    expect(await footprint(api, tenantId)).toEqual(before);
    expect(await bullJobsIn(api, lanesOf(tenantId).campaign)).toBe(bullBefore);
    expect(before).toMatchObject({ mongoCampaigns: 1, inFlight: 2 });
  });

  it('makes one campaign of six identical submissions sent at once', async () => {
    const { tenantId, c } = await tenant('idem-concurrent');
    const profileIds = await createRoster(c, 2);
    const body = {
      name: 'Crowd',
      profile_ids: profileIds,
      scenes: [{ prompt: 'in a crowd' }],
      variants: 4,
    };

    const answers = await Promise.all(
      Array.from({ length: 6 }, () => c.submit(body, { 'Idempotency-Key': 'crowd-once' })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(202));
    const ids = new Set(answers.map((a) => a.body.campaign_id as string));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(5);

    expect(await footprint(api, tenantId)).toMatchObject({
      mongoCampaigns: 1,
      inFlight: 8,
      liveCampaigns: [...ids],
    });
    expect(await bullJobsIn(api, lanesOf(tenantId).campaign)).toBe(8);
  });
});
