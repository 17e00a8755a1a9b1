import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { connectMongo, createRedis, waitForRedis } from '@castforge/core';
import { type TestServices, deleteKeys, testLogger } from './services';
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
  const mongoUri = process.env.MONGODB_URI;
  if (!mongoUri) throw new Error('MONGODB_URI is not set: run the tests through jest');
  const ownRedis = await startOwnRedis();
  const suffix = randomBytes(4).toString('hex');
  const dbName = `t_${name.replace(/[^a-z0-9]/gi, '_').slice(0, 40)}_${suffix}`;
  const prefix = `t${suffix}`;
  const logger = testLogger(name);
  const mongo = await connectMongo({ uri: mongoUri, dbName, serverSelectionTimeoutMS: 3000, logger });
  const redis = createRedis(ownRedis.url, 'command', logger);
  await waitForRedis(redis, 5000);
  return {
    mongo,
    mongoUri,
    dbName,
    redis,
    redisUrl: ownRedis.url,
    // Its own single Redis, in every lane (the cluster lane included): what it measures is that server.
    redisTarget: { url: ownRedis.url },
    redisEnv: { REDIS_URL: ownRedis.url },
    prefix,
    logger,
    ownRedis,
    async close() {
      await deleteKeys(redis, `${prefix}:*`).catch(() => undefined);
      const db = mongo.db;
      if (db) {
        for (const collection of await db.collections().catch(() => [])) {
          await collection.deleteMany({}).catch(() => undefined);
        }
      }
      await mongo.close().catch(() => undefined);
      redis.disconnect();
      await ownRedis.stop();
    },
  };
}
