/**
 * Issue 8, defect 6, for campaigns: a CAMPAIGN_CREATE whose reply is lost after Redis ran it (the issue names
 * CREATE and CAMPAIGN_CREATE with `commandTimeout: 2000`) must leave the campaign whole or absent: its MongoDB
 * documents (what its jobs plan from, where its outcome goes) and its Redis state together, or neither.
 *
 * Runs on a Redis of its own, paused (CLIENT PAUSE WRITE) for longer than the API client's 2 s command
 * timeout just before CAMPAIGN_CREATE is sent: the script times out on the client and runs when the pause
 * ends. The pause is started from the campaign state's `nextNumber` seam (the last Redis write before
 * CAMPAIGN_CREATE), so it falls exactly between the two; everything else is the API's own code.
 */
import { type CampaignState } from '@castforge/core';
import { type ApiHarness, type WorkerHarness, startApi, startWorker, waitFor } from '@castforge/testkit';
import { campaignServiceKit } from '@castforge/testkit/campaign-service';
import { SMALL_PROFILE, campaignTenant } from '@castforge/testkit/campaigns';
import { openServicesOnOwnRedis } from '@castforge/testkit/own-redis';
import { scriptedBackend } from '@castforge/testkit/scripted-backend';

describe('a campaign whose CAMPAIGN_CREATE timed out after Redis ran it', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  beforeAll(async () => {
    api = await startApi(
      'lifecycle-lost-campaign-create',
      {},
      await openServicesOnOwnRedis('lifecycle-lost-campaign-create'),
    );
  });
  afterAll(async () => {
    await api.close();
    await api.services.close();
  });

  afterEach(async () => {
    await worker?.close();
    worker = undefined;
  });

  it.each([
    ['shorter than the script and its check together', 3000],
    ['longer than both', 5000],
  ])(
    '(paused %s) exists whole or not at all, and if it exists it runs to its end and is finalized',
    async (_how, pauseMs) => {
      const { tenantId, c } = await campaignTenant(api, `lost-campaign-${pauseMs}`);
      const profile = await c.createProfile({ name: 'Lead', prompt_template: 'lead', ...SMALL_PROFILE });
      const kit = await campaignServiceKit(api);
      let campaignId = '';
      const pausedBeforeCreate: CampaignState = {
        ...kit.realState,
        async nextNumber() {
          const n = await kit.realState.nextNumber();
          campaignId = api.deps.jobs.ids.campaignId(n);
          // Past the client's 2 s command timeout; the check "did it run?" after it waits behind it on the same
          // connection, and times out too if the pause outlasts both.
          await api.services.redis.client('PAUSE', pauseMs, 'WRITE');
          return n;
        },
      };
      const answer = await kit
        .serviceWith(pausedBeforeCreate)
        .create(tenantId, {
          name: 'Lost reply',
          profile_ids: [profile],
          scenes: [{ prompt: 'a' }, { prompt: 'b' }],
        })
        .then(
          () => 'accepted',
          (err: Error) => err.message,
        );
      // Once the pause is over, whatever the client was told, the script has run (or was refused by then).
      const b = api.deps.jobs.keys.forTenant(tenantId);
      await waitFor(
        async () => (await api.services.redis.set(`${api.services.prefix}:probe`, '1')) === 'OK',
        {
          timeoutMs: 10_000,
          what: 'the pause to end',
        },
      );
      const mongo = api.services.mongo;
      const whole = {
        redisState: (await kit.realState.read(tenantId, campaignId)) !== null,
        campaignDoc: (await mongo.collection('campaigns').countDocuments({ campaign_id: campaignId })) === 1,
        specDoc: (await mongo.collection('campaign_specs').countDocuments({ campaign_id: campaignId })) === 1,
      };
      if (!whole.redisState) {
        // Not at all: nothing of it anywhere, nothing reserved against the tenant's limit.
        expect({ answer, whole, inFlight: await api.deps.jobs.inFlight(tenantId) }).toEqual({
          answer: expect.stringMatching(/timed out/i),
          whole: { redisState: false, campaignDoc: false, specDoc: false },
          inFlight: 0,
        });
        return;
      }

      // It exists in Redis, so it must run to an end: its lease runs out, another process enqueues it, it runs.
      await api.services.redis.zadd(b.enqueuing, 1, campaignId);
      expect(await kit.enqueuerWith(kit.realState).resumeStalled()).toBe(1);
      const gpu = scriptedBackend();
      worker = await startWorker(api.services, {}, { backend: gpu.backend });
      await waitFor(async () => (await kit.realState.read(tenantId, campaignId))?.done, {
        timeoutMs: 15_000,
        what: 'every job of the campaign to end',
      });
      const live = await kit.realState.read(tenantId, campaignId);
      // Its outcome must reach MongoDB (the finalization the outbox carries) and nothing be left to relay.
      const finalized = await waitFor(
        async () => {
          const doc = await mongo.collection('campaigns').findOne({ campaign_id: campaignId });
          return doc?.status !== 'running' && doc?.status !== undefined && String(doc.status);
        },
        { timeoutMs: 10_000, what: "the campaign's outcome in MongoDB" },
      ).catch(() => 'never');
      expect({ answer, whole, counts: live?.counts, gpuRuns: gpu.reached.length, finalized }).toEqual({
        answer: expect.any(String),
        whole: { redisState: true, campaignDoc: true, specDoc: true },
        counts: expect.objectContaining({ completed: 2, failed: 0 }),
        gpuRuns: 2,
        finalized: 'completed',
      });
    },
    45_000,
  );
});
