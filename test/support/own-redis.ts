import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createRedis } from '@castforge/core';
import { type TestServices, openServices, testLogger } from './services';
import { waitFor } from './wait';

export interface OwnRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/**
 * A redis-server of the test's own on a free port, without persistence: for a test that pauses Redis, reads
 * its command statistics, or otherwise must not share the Redis every other test uses.
 */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const probe = createRedis(url, 'worker', testLogger('own-redis'), { lazyConnect: true });
  try {
    await waitFor(
      async () => {
        if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
        return (await probe.ping()) === 'PONG';
      },
      { timeoutMs: 10_000, what: `redis-server on port ${port} to answer` },
    );
  } finally {
    probe.disconnect();
  }
  return {
    url,
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Services like `openServices`, but on a Redis of the test's own (stopped on close). */
export async function openServicesOnOwnRedis(name: string): Promise<TestServices & { ownRedis: OwnRedis }> {
  const ownRedis = await startOwnRedis();
  // Its own single Redis, in every lane (the cluster lane included): what it measures is that server.
  const services = await openServices(name, {
    redisUrl: ownRedis.url,
    redisTarget: { url: ownRedis.url },
    redisEnv: { REDIS_URL: ownRedis.url },
  }).catch(async (err: unknown) => {
    await ownRedis.stop();
    throw err;
  });
  return {
    ...services,
    ownRedis,
    async close() {
      await services.close();
      await ownRedis.stop();
    },
  };
}
