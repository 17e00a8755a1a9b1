import { redisKeys } from '@castforge/core';
/**
 * An invalid campaign is refused whole before any job exists (SPEC §7, §8; issue #5): unknown, foreign,
 * deleted or repeated profiles, sizes out of range, a scene without the prompt a profile needs, unknown scene
 * fields, too many jobs for CAMPAIGN_MAX_JOBS, a tenant's in-flight limit. In every case nothing is left
 * behind: no campaign in MongoDB, no BullMQ job or lane key in Redis, the tenant's in-flight counter as it was.
 * No worker runs in this file, so what Redis holds is exactly what the API enqueued.
 */
import { randomBytes } from 'node:crypto';
import { type ApiHarness, expectError, locsOf, startApi } from '@castforge/testkit';
import {
  type CampaignClient,
  bullJobsIn,
  campaignClient,
  footprint,
  lanesOf,
  SMALL_PROFILE,
  campaignTenant,
  createRoster,
} from '@castforge/testkit/campaigns';
import request from 'supertest';

const CAMPAIGN_MAX_JOBS = 50;
const TENANT_MAX_JOBS_IN_FLIGHT = 60;

const unknownProfileId = () => `prof_${randomBytes(8).toString('hex')}`;

describe('POST /campaigns/v1: an invalid campaign is refused before any job exists', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await startApi('story-campaign-validation', {
      CAMPAIGN_MAX_JOBS: String(CAMPAIGN_MAX_JOBS),
      TENANT_MAX_JOBS_IN_FLIGHT: String(TENANT_MAX_JOBS_IN_FLIGHT),
    });
  });
  afterAll(() => api.close());

  const tenant = (tenantId: string) => campaignTenant(api, tenantId);

  /** Submits, and checks the answer and that the tenant's stores are exactly as before. */
  const refused = async (
    t: { tenantId: string; c: CampaignClient },
    body: Record<string, unknown>,
    code: 'INVALID_PARAMETERS' | 'INPUT_INVALID' | 'CONCURRENT_JOBS_EXCEEDED',
  ) => {
    const before = await footprint(api, t.tenantId);
    const bullBefore = await bullJobsIn(api, lanesOf(t.tenantId).campaign);
    const res = await t.c.submit(body);
    const error = expectError(res, code);
    expect(await footprint(api, t.tenantId)).toEqual(before);
    expect(await bullJobsIn(api, lanesOf(t.tenantId).campaign)).toBe(bullBefore);
    return { error, res, before };
  };
  const nothingAtAll = {
    mongoCampaigns: 0,
    laneKeys: [],
    liveCampaigns: [],
    lanes: [],
    inFlight: 0,
    queuedInBucket: expect.any(Number),
  };

  it('names every unknown, foreign and deleted profile by its index, with INPUT_INVALID', async () => {
    const t = await tenant('roster-bad-ids');
    const [good1, good2, doomed] = await createRoster(t.c, 3);
    const foreign = await campaignClient(api, await api.keyFor('roster-bad-ids-other')).createProfile({
      name: 'Not yours',
      prompt_template: 'someone else',
    });
    const deleted = await request(api.server)
      .delete(`/profiles/v1/${doomed}`)
      .set('X-API-Key', await api.keyFor(t.tenantId));
    expect(deleted.status).toBe(204);
    const unknown = unknownProfileId();

    const { error, before } = await refused(
      t,
      {
        name: 'Mixed roster',
        profile_ids: [good1, unknown, good2, foreign, doomed],
        scenes: [{ prompt: 'at a bus stop' }],
      },
      'INPUT_INVALID',
    );
    expect(before).toEqual(nothingAtAll);
    expect(error.detail.map((d) => d.loc)).toEqual([
      ['body', 'profile_ids', 1],
      ['body', 'profile_ids', 3],
      ['body', 'profile_ids', 4],
    ]);
    expect(error.detail[0]!.msg).toContain(unknown);
    expect(error.detail[1]!.msg).toContain(foreign);
    expect(error.detail[2]!.msg).toContain(doomed);
  });

  it.each([
    ['an unknown profile', 'unknown'],
    ["another tenant's profile", 'foreign'],
    ['a deleted profile', 'deleted'],
  ] as const)('refuses %s alone with a 422 naming its index', async (_label, kind) => {
    const t = await tenant(`roster-one-${kind}`);
    const [good1, good2] = await createRoster(t.c, 2);
    let bad = unknownProfileId();
    if (kind === 'foreign') {
      bad = await campaignClient(api, await api.keyFor(`roster-one-${kind}-other`)).createProfile({
        name: 'Elsewhere',
        prompt_template: 'another tenant',
      });
    }
    if (kind === 'deleted') {
      const [victim] = await createRoster(t.c, 1);
      bad = victim!;
      const res = await request(api.server)
        .delete(`/profiles/v1/${bad}`)
        .set('X-API-Key', await api.keyFor(t.tenantId));
      expect(res.status).toBe(204);
    }
    const { error } = await refused(
      t,
      { name: 'One bad', profile_ids: [good1, good2, bad], scenes: [{ prompt: 'x' }] },
      'INPUT_INVALID',
    );
    expect(error.detail).toEqual([
      { loc: ['body', 'profile_ids', 2], msg: expect.stringContaining(bad), type: 'not_found' },
    ]);
  });

  it('refuses a roster that names a profile twice, pointing at the repeat', async () => {
    const t = await tenant('roster-duplicate');
    const [a, b] = await createRoster(t.c, 2);
    const { error } = await refused(
      t,
      { name: 'Twice', profile_ids: [a, b, a], scenes: [{ prompt: 'on a bridge' }] },
      'INVALID_PARAMETERS',
    );
    expect(locsOf(error)).toEqual(['body.profile_ids.2']);
    expect(error.detail[0]!.msg).toMatch(/profile_ids\[0\]/);
  });

  it('refuses 0 or 1001 profiles, 0 or 1001 scenes, and 0 or 17 variants', async () => {
    const t = await tenant('roster-sizes');
    const [a] = await createRoster(t.c, 1);
    const base = { name: 'Sizes', profile_ids: [a], scenes: [{ prompt: 'p' }], variants: 1 };
    const cases: [Record<string, unknown>, string][] = [
      [{ profile_ids: [] }, 'body.profile_ids'],
      [{ profile_ids: Array.from({ length: 1001 }, unknownProfileId) }, 'body.profile_ids'],
      [{ scenes: [] }, 'body.scenes'],
      [{ scenes: Array.from({ length: 1001 }, (_, i) => ({ prompt: `scene ${i}` })) }, 'body.scenes'],
      [{ variants: 0 }, 'body.variants'],
      [{ variants: 17 }, 'body.variants'],
    ];
    for (const [change, loc] of cases) {
      const { error } = await refused(t, { ...base, ...change }, 'INVALID_PARAMETERS');
      expect([loc, locsOf(error)]).toEqual([loc, [loc]]);
    }
    expect(await footprint(api, t.tenantId)).toEqual(nothingAtAll);
  });

  it('refuses a scene without a prompt when a profile of the roster cannot make one alone', async () => {
    const t = await tenant('roster-prompt');
    const alone = await t.c.createProfile({
      name: 'Complete on its own',
      prompt_template: 'a portrait of a lighthouse keeper',
      prompt_template_mode: 'replace',
      ...SMALL_PROFILE,
    });
    const needy = await t.c.createProfile({
      name: 'Needs a scene',
      prompt_template: 'a fisherman',
      ...SMALL_PROFILE,
    });
    const scenes = [{ prompt: 'by the sea' }, { name: 'no words' }];

    const { error } = await refused(
      t,
      { name: 'Quiet', profile_ids: [alone, needy], scenes },
      'INVALID_PARAMETERS',
    );
    expect(locsOf(error)).toEqual(['body.scenes.1.prompt']);
    expect(error.detail[0]!.msg).toContain(needy);
    expect(error.detail[0]!.msg).not.toContain(alone);

    // The rule is about the roster: the same scenes with only the replace-mode profile are fine.
    const accepted = await t.c.submit({ name: 'Quiet', profile_ids: [alone], scenes });
    expect(accepted.status).toBe(202);
  });

  it('refuses scene fields it does not know, profile_id and callback_url included, naming each', async () => {
    const t = await tenant('roster-unknown-fields');
    const [a] = await createRoster(t.c, 1);
    const { error } = await refused(
      t,
      {
        name: 'Odd scenes',
        profile_ids: [a],
        scenes: [
          { prompt: 'fine' },
          { prompt: 'wide', camera: 'wide angle' },
          { prompt: 'mine', profile_id: a, callback_url: 'https://example.com/h' },
        ],
      },
      'INVALID_PARAMETERS',
    );
    expect(locsOf(error).sort()).toEqual([
      'body.scenes.1.camera',
      'body.scenes.2.callback_url',
      'body.scenes.2.profile_id',
    ]);
    expect(error.detail.every((d) => d.type === 'extra_forbidden')).toBe(true);
    expect(await footprint(api, t.tenantId)).toEqual(nothingAtAll);
  });

  it(`refuses more than CAMPAIGN_MAX_JOBS (${CAMPAIGN_MAX_JOBS}) jobs with a 422 saying how many it would make`, async () => {
    const t = await tenant('roster-too-big');
    const profileIds = await createRoster(t.c, 2);
    const scenes = (n: number) => Array.from({ length: n }, (_, i) => ({ prompt: `scene ${i}` }));

    const { error } = await refused(
      t,
      { name: 'Too big', profile_ids: profileIds, scenes: scenes(2), variants: 13 },
      'INVALID_PARAMETERS',
    );
    expect(error.message).toMatch(/52 jobs.*at most 50/);
    expect(await footprint(api, t.tenantId)).toEqual(nothingAtAll);

    // Exactly at the limit is accepted.
    const atLimit = await t.c.submit({
      name: 'Just fits',
      profile_ids: profileIds,
      scenes: scenes(5),
      variants: 5,
    });
    expect(atLimit.status).toBe(202);
    expect(atLimit.body.job_count).toBe(CAMPAIGN_MAX_JOBS);
    // …and shows in every place the refused ones were checked against (so those checks can fail).
    const accepted = await footprint(api, t.tenantId);
    expect(accepted).toMatchObject({
      mongoCampaigns: 1,
      liveCampaigns: [atLimit.body.campaign_id],
      lanes: [lanesOf(t.tenantId).campaign],
      inFlight: CAMPAIGN_MAX_JOBS,
    });
    expect(accepted.laneKeys).toContain(
      redisKeys(api.services.prefix).forTenant(t.tenantId).bull(lanesOf(t.tenantId).campaign).wait,
    );
    expect(await bullJobsIn(api, lanesOf(t.tenantId).campaign)).toBe(CAMPAIGN_MAX_JOBS);
  });

  it('refuses a campaign that would take the tenant past its in-flight limit with 429 CONCURRENT_JOBS_EXCEEDED', async () => {
    const t = await tenant('roster-in-flight');
    const profileIds = await createRoster(t.c, 2);
    const body = (variants: number) => ({
      name: 'Backlog',
      profile_ids: profileIds,
      scenes: [{ prompt: 'a' }, { prompt: 'b' }, { prompt: 'c' }],
      variants,
    });
    const first = await t.c.launch(body(5)); // 30 jobs in flight
    expect(first.job_count).toBe(30);

    const { res, error, before } = await refused(
      t,
      { ...body(5), scenes: [...body(5).scenes, { prompt: 'd' }] },
      'CONCURRENT_JOBS_EXCEEDED',
    );
    expect(before).toMatchObject({ mongoCampaigns: 1, inFlight: 30 });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(error.message).toMatch(/limit of 60/);

    // 30 more is exactly the limit: accepted.
    const fits = await t.c.submit(body(5));
    expect(fits.status).toBe(202);
    expect((await footprint(api, t.tenantId)).inFlight).toBe(TENANT_MAX_JOBS_IN_FLIGHT);
  });

  it('refuses a callback URL in a private range before anything exists', async () => {
    const t = await tenant('roster-callback');
    const [a] = await createRoster(t.c, 1);
    const { error } = await refused(
      t,
      { name: 'Hooked', profile_ids: [a], scenes: [{ prompt: 'p' }], callback_url: 'http://10.0.0.7/hook' },
      'INVALID_PARAMETERS',
    );
    expect(locsOf(error)).toEqual(['body.callback_url']);
    expect(await footprint(api, t.tenantId)).toEqual(nothingAtAll);
  });
});
