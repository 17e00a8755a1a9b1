import { type ChildProcess, spawn } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { type Redis, createRedis, waitForRedis } from '@castforge/core';
import { type ApiHarness, type TestServices, expectError, openServices, startApi } from '@castforge/testkit';
import { waitFor } from '@castforge/testkit/wait';
import request from 'supertest';

const GENERATE = '/generate/image/v1';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A Redis server of this test alone (in memory), which it may kill and start again on the same port. */
function redisServer(port: number) {
  let child: ChildProcess | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    start() {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' },
      );
      // Without redis-server on the PATH the test fails in beforeAll (Redis never answers), not with a crash.
      child.once('error', () => undefined);
    },
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * SPEC §8: with Redis unreachable the API answers 503 SERVICE_UNAVAILABLE fast, never hangs. The API here
 * talks to a Redis server of this test's own, killed mid-test; MongoDB (API keys) stays up.
 */
describe('POST /generate/image/v1 and GET status while Redis is down', () => {
  let services: TestServices;
  let ownRedis: ReturnType<typeof redisServer>;
  let redis: Redis;
  let api: ApiHarness;
  let key: string;

  beforeAll(async () => {
    services = await openServices('generation-outage');
    ownRedis = redisServer(await freePort());
    ownRedis.start();
    redis = createRedis(ownRedis.url, 'command', services.logger);
    await waitForRedis(redis, 5000);
    api = await startApi('generation-outage', {}, { ...services, redis, redisUrl: ownRedis.url });
    key = await api.keyFor('outage');
  });
  afterAll(async () => {
    // Bring Redis back so the BullMQ queue the API opened can close cleanly.
    if (redis.status !== 'ready') {
      ownRedis.start();
      await waitForRedis(redis, 5000).catch(() => undefined);
    }
    await api.close();
    redis.disconnect();
    await ownRedis.kill();
    await services.close();
  });

  const submit = () => request(api.server).post(GENERATE).set('X-API-Key', key).send({ prompt: 'a fox' });
  const timed = async <T>(call: () => Promise<T>) => {
    const started = Date.now();
    const result = await call();
    return { result, ms: Date.now() - started };
  };

  it('answers submissions, status polls and cancels with a fast 503, and accepts jobs again once Redis is back', async () => {
    const before = await submit();
    expect(before.status).toBe(202);
    const jobId = before.body.job_id as string;

    await ownRedis.kill();

    const post = await timed(submit);
    const body = expectError(post.result, 'SERVICE_UNAVAILABLE');
    expect(body.message).toMatch(/Redis|MongoDB|unreachable/i);
    expect(Number(post.result.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // "Fast" on a busy machine: well under any client timeout, not the 10 s an idempotent wait could take.
    expect(post.ms).toBeLessThan(5000);

    const poll = await timed(async () =>
      request(api.server).get(`${GENERATE}/status/${jobId}`).set('X-API-Key', key),
    );
    expectError(poll.result, 'SERVICE_UNAVAILABLE');
    expect(poll.ms).toBeLessThan(5000);

    const withKey = await timed(async () =>
      request(api.server)
        .post(GENERATE)
        .set('X-API-Key', key)
        .set('Idempotency-Key', 'during-outage')
        .send({ prompt: 'x' }),
    );
    expectError(withKey.result, 'SERVICE_UNAVAILABLE');
    expect(withKey.ms).toBeLessThan(5000);

    const cancel = await timed(async () =>
      request(api.server).post(`${GENERATE}/cancel/${jobId}`).set('X-API-Key', key),
    );
    expectError(cancel.result, 'SERVICE_UNAVAILABLE');
    expect(cancel.ms).toBeLessThan(5000);

    ownRedis.start();
    const after = await waitFor(
      async () => {
        const res = await submit();
        return res.status === 202 && res;
      },
      { timeoutMs: 10_000, intervalMs: 200, what: 'a job to be accepted once Redis is back' },
    );
    expect(after.body.status).toBe('queued');
    const status = await request(api.server)
      .get(`${GENERATE}/status/${after.body.job_id}`)
      .set('X-API-Key', key);
    expect(status.body.status).toBe('queued');
  });
});
