/**
 * Issue 10, "What to build": the identity operations are jobs "with ... campaigns (SPEC §7's `operation`
 * and `roster` of `{profile_id, input_image}`)". The official client has no campaign call, so this is
 * castforge's own API, with the same operations and input images as the SDK stories: a `lock` campaign over
 * a roster of two profiles, each with its own face served on loopback. Each job must run `lock` (its status
 * at /identity/lock/image/v1), on its roster entry's face fetched by the worker, with its profile applied;
 * and once the campaign has ended neither Redis nor MongoDB holds a roster URL (SPEC §9).
 */
import { createHash } from 'node:crypto';
import {
  type ApiHarness,
  type WorkerHarness,
  dumpRedis,
  startApi,
  startWorker,
  waitFor,
} from '@castforge/testkit';
import { type ImageServer, serve, startImageServer, testImage } from '@castforge/testkit/image-server';
import { type SdkClient, sdkBody, sdkClient } from '@castforge/testkit/sdk-client';

const FACES = { red: '/campaign-faces/red-2b7e.png', blue: '/campaign-faces/blue-a41c.png' } as const;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('a lock campaign over a roster of {profile_id, input_image}', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let images: ImageServer;
  let ip: SdkClient;

  beforeAll(async () => {
    images = await startImageServer({
      [FACES.red]: serve(await testImage('png', 64, 80, [210, 40, 40]), 'image/png'),
      [FACES.blue]: serve(await testImage('png', 64, 80, [40, 60, 220]), 'image/png'),
    });
    api = await startApi('story-sdk-identity-campaign', { INPUT_ALLOW_LOOPBACK: 'true' });
    worker = await startWorker(api.services, { INPUT_ALLOW_LOOPBACK: 'true', SIMULATED_STEP_MS: '1' });
    ip = sdkClient(api.baseUrl, await api.keyFor('sdk-lock-campaign'));
    await waitFor(
      async () =>
        ((await ip.account()).operations as { operation: string }[]).some((o) => o.operation === 'lock'),
      { timeoutMs: 10_000, intervalMs: 200, what: 'the worker to declare lock' },
    );
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await images?.close();
  });

  it('runs lock for every roster entry on its own face, then keeps none of the roster’s URLs', async () => {
    const profile = (name: string, template: string) =>
      ip.post(
        '/profiles/v1',
        sdkBody.createProfile(name, {
          prompt_template: template,
          seed_strategy: 'fixed',
          fixed_seed: 42,
          width: 128,
          height: 160,
          steps: 2,
          output_format: 'png',
        }),
      );
    const [ana, bea] = await Promise.all([
      profile('Ana', 'ana, short black hair'),
      profile('Bea', 'bea, long red hair'),
    ]);
    const created = await ip.post('/campaigns/v1', {
      name: 'two faces on a beach',
      operation: 'lock',
      roster: [
        { profile_id: ana.profile_id, input_image: images.at(FACES.red) },
        { profile_id: bea.profile_id, input_image: images.at(FACES.blue) },
      ],
      scenes: [{ prompt: 'on a windy beach' }],
    });
    expect(created).toMatchObject({ job_count: 2, status: 'running' });
    const campaignId = created.campaign_id as string;

    const done = await waitFor(
      async () => {
        const campaign = await ip.get(`/campaigns/v1/${campaignId}`);
        return campaign.status !== 'running' && campaign;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the campaign to end' },
    );
    expect(done).toMatchObject({ status: 'completed', counts: { completed: 2 } });
    const { jobs } = (await ip.get(`/campaigns/v1/${campaignId}/jobs`)) as {
      jobs: Array<Record<string, unknown> & { job_id: string; result_url: string }>;
    };
    expect(jobs.map((j) => ({ endpoint: j.endpoint, prompt: j.prompt, seed: j.seed }))).toEqual([
      { endpoint: '/identity/lock/image/v1', prompt: 'on a windy beach, ana, short black hair', seed: 42 },
      { endpoint: '/identity/lock/image/v1', prompt: 'on a windy beach, bea, long red hair', seed: 42 },
    ]);
    // Each job's face was fetched by the worker, once.
    expect([...images.requests].sort()).toEqual([FACES.blue, FACES.red]);
    // And the status of each is readable at the operation's route, as the SDK would poll it.
    for (const job of jobs)
      expect(await ip.get(`/identity/lock/image/v1/status/${job.job_id}`)).toMatchObject({
        status: 'completed',
      });
    const bytes = await Promise.all(
      jobs.map(async (j) => {
        const link = new URL(j.result_url);
        return (await ip.send('GET', `${link.pathname}${link.search}`)).bytes;
      }),
    );
    expect(sha256(bytes[0]!)).not.toBe(sha256(bytes[1]!));

    // Nothing of the roster's URLs is kept once the campaign has ended: not in Redis, not in MongoDB.
    const needles = [images.url.replace(/^http:\/\//, ''), ...Object.values(FACES)];
    const redisDump = await dumpRedis(api.services.redis, api.services.prefix);
    const inRedis = [...redisDump].flatMap(([key, content]) =>
      needles.filter((n) => content.includes(n)).map((n) => `${key} holds ${n}`),
    );
    expect(inRedis).toEqual([]);
    const db = api.services.mongo.db!;
    const inMongo: string[] = [];
    // Every collection the apps use (the embedded server has no listCollections).
    for (const collection of Object.keys(api.services.mongo.collections).map((name) => db.collection(name))) {
      for (const doc of await collection.find({}).toArray()) {
        const text = JSON.stringify(doc);
        for (const n of needles)
          if (text.includes(n)) inMongo.push(`${collection.collectionName} holds ${n}`);
      }
    }
    expect(inMongo).toEqual([]);
  });
});
