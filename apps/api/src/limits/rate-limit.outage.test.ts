/**
 * The rate limiter during a Redis outage: it never turns a request into a wait. Redis stopped mid-way
 * (SIGSTOP: connected, silent) or gone (connection refused), each decision is taken in this process's
 * memory instead, at once, and the budget still holds there. A Redis of the test's own is stopped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type Server } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { type Redis, createLogger, createRedis, createRegistry, waitForRedis } from '@castforge/core';
import { expectError } from '@castforge/testkit';
import express from 'express';
import { ApiConfig } from '../config';
import { compose } from '../http/compose';
import { errorHandler } from '../http/errors';
import { observeRequests } from '../http/observe';
import { createRateLimits } from './rate-limit';

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

describe('rate limits while Redis is away', () => {
  const logger = createLogger({ name: 'ratelimit-outage', level: 'silent' });
  const registry = createRegistry('api');
  let redisServer: ChildProcess;
  let redis: Redis;
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    redisServer = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    redis = createRedis(`redis://127.0.0.1:${port}`, 'command', logger);
    await waitForRedis(redis, 5000);
    const config = ApiConfig.parse({
      REDIS_PREFIX: 'outage',
      RATE_LIMIT_READS: '3',
      RATE_LIMIT_READS_WINDOW_SECONDS: '600',
    });
    const limits = createRateLimits({ redis, config, registry });
    const app = express();
    app.use(observeRequests(app, { logger, registry }));
    // Our own seam: every request is the same authenticated key.
    const signedIn: express.RequestHandler = (req, _res, next) => {
      req.principal = { tenantId: 'outage', keyId: 'key_outage', keyName: 'outage' };
      next();
    };
    app.get('/status', compose(limits.authentication(signedIn), limits.perKey), (_req, res) => {
      res.json({ ok: true });
    });
    app.use(errorHandler(logger));
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    redis.disconnect();
    if (redisServer.exitCode === null) {
      redisServer.kill('SIGCONT');
      redisServer.kill('SIGKILL');
    }
  });

  const fallbacks = async () =>
    (await registry.getSingleMetric('rate_limit_fallback_decisions_total')!.get()).values.reduce(
      (sum, v) => sum + v.value,
      0,
    );
  const timed = async () => {
    const started = Date.now();
    const res = await fetch(`${baseUrl}/status`);
    return { status: res.status, ms: Date.now() - started, res };
  };

  it('decides in Redis while it answers', async () => {
    const { status, res } = await timed();
    expect(status).toBe(200);
    expect(res.headers.get('ratelimit')).toMatch(/^"reads";r=2;t=\d+$/);
    expect(await fallbacks()).toBe(0);
  });

  it('decides in memory, without waiting for the command timeout, when Redis stops answering', async () => {
    redisServer.kill('SIGSTOP');
    const answer = await timed();
    expect(answer.status).toBe(200);
    // The Redis client would wait 2 s (its command timeout) for a silent server; the limiter does not.
    expect(answer.ms).toBeLessThan(2000);
    expect(await fallbacks()).toBeGreaterThanOrEqual(1);
  });

  it('keeps a budget in memory while Redis is gone, answering 429 past it', async () => {
    redisServer.kill('SIGCONT');
    redisServer.kill('SIGKILL');
    await new Promise((resolve) => redisServer.once('exit', resolve));
    const answers = [await timed(), await timed(), await timed(), await timed()];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429, 429]);
    const refused = answers[3]!;
    expectError(
      {
        status: refused.status,
        headers: Object.fromEntries(refused.res.headers),
        body: await refused.res.json(),
      },
      'RATE_LIMIT_EXCEEDED',
    );
    expect(refused.res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
  });
});
