import {
  type ApiHarness,
  type OwnMongoServices,
  expectError,
  namesOf,
  openServicesOnOwnMongo,
  startApi,
} from '@castforge/testkit';
import request from 'supertest';

/** Polls until `check` passes or the deadline passes; answers whether it passed. */
async function eventually(check: () => Promise<boolean>, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('when MongoDB is unreachable', () => {
  let services: OwnMongoServices;
  let api: ApiHarness;
  let key: string;
  let profileId: string;

  beforeAll(async () => {
    services = await openServicesOnOwnMongo('mongo-outage');
    api = await startApi('mongo-outage', {}, services);
    key = await api.keyFor('outage');
    const created = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', key)
      .send({ name: 'Before' });
    expect(created.status).toBe(201);
    profileId = created.body.profile_id;

    const exited = new Promise((resolve) => services.embedded.process.once('exit', resolve));
    services.embedded.process.kill('SIGKILL');
    await exited;
  }, 60_000);

  afterAll(async () => {
    await api.close();
    await services.close();
  }, 30_000);

  it.each([
    [
      'POST /profiles/v1',
      () => request(api.server).post('/profiles/v1').set('X-API-Key', key).send({ name: 'During' }),
    ],
    ['GET /profiles/v1', () => request(api.server).get('/profiles/v1').set('X-API-Key', key)],
    [
      'GET /profiles/v1/:profile_id',
      () => request(api.server).get(`/profiles/v1/${profileId}`).set('X-API-Key', key),
    ],
    [
      'PATCH /profiles/v1/:profile_id',
      () =>
        request(api.server).patch(`/profiles/v1/${profileId}`).set('X-API-Key', key).send({ name: 'During' }),
    ],
  ])('%s answers 503 SERVICE_UNAVAILABLE in the SPEC §8 shape within a few seconds', async (_route, call) => {
    const started = Date.now();
    const res = await call();
    expect(Date.now() - started).toBeLessThan(3000);
    const body = expectError(res, 'SERVICE_UNAVAILABLE');
    expect(body.message).toMatch(/unreachable/);
    expect(res.headers['retry-after']).toBe('1');
  });

  it('keeps answering 503 fast, never hanging, while many requests arrive at once', async () => {
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => request(api.server).get('/profiles/v1').set('X-API-Key', key)),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(503));
  });

  it('reports MongoDB down on /readyz, while /healthz still answers', async () => {
    const started = Date.now();
    const ready = await request(api.server).get('/readyz');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: 'unavailable', checks: { redis: 'ok', mongodb: 'down' } });
    expect((await request(api.server).get('/healthz')).status).toBe(200);
  });

  it('serves requests again once MongoDB is back on the same port, without restarting the API', async () => {
    await services.restartMongo();
    const ready = await eventually(
      async () => (await request(api.server).get('/readyz')).status === 200,
      20_000,
    );
    expect(ready).toBe(true);

    // The embedded server keeps nothing across a restart, so the key is issued again.
    const fresh = await api.deps.keys.create('outage', 'after restart');
    const created = await request(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', fresh.api_key)
      .send({ name: 'After' });
    expect(created.status).toBe(201);
    const listed = await request(api.server).get('/profiles/v1').set('X-API-Key', fresh.api_key);
    expect(listed.status).toBe(200);
    expect(namesOf(listed.body)).toEqual(['After']);
  }, 30_000);
});
