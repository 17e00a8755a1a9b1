import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  type Connection,
  type Logger,
  REDACT_PATHS,
  type Redis,
  type RedisTarget,
  clusterNodesOf,
  connectMongo,
  createLogger,
  createRedis,
  scanKeys,
  waitForRedis,
} from '@castforge/core';
import pino from 'pino';

export interface TestServices {
  /** A MongoDB database of this test file's own. */
  mongo: Connection;
  mongoUri: string;
  dbName: string;
  /** Redis, with a key prefix of this test file's own; every key under it is deleted on close. */
  redis: Redis;
  redisUrl: string;
  /** REDIS_URL, or the Redis Cluster of REDIS_CLUSTER_NODES (the cluster lane, `npm run test:cluster`). */
  redisTarget: RedisTarget;
  /** The env a process of this test needs to reach the same Redis. */
  redisEnv: Record<string, string>;
  prefix: string;
  logger: Logger;
  close(): Promise<void>;
}

export const testLogger = (name: string): Logger =>
  createLogger({ name, level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A logger like createLogger's (its redaction included) writing each line into `lines`, for tests of the logs. */
export function memoryLogger(service: string, lines: string[], level = 'trace'): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return pino({ level, base: { service }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
}

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  // One key per call: in a cluster the keys of a pattern live in many slots.
  const keys = await scanKeys(redis, pattern);
  for (let i = 0; i < keys.length; i += 500)
    await Promise.all(keys.slice(i, i + 500).map((k) => redis.unlink(k)));
}

/** The Redis of this run: REDIS_URL, or the cluster of REDIS_CLUSTER_NODES (the cluster lane). */
export function redisOfEnv(): {
  redisUrl: string;
  redisTarget: RedisTarget;
  redisEnv: Record<string, string>;
} {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const clusterNodes = clusterNodesOf(process.env.REDIS_CLUSTER_NODES);
  return {
    redisUrl,
    redisTarget: { url: redisUrl, clusterNodes },
    redisEnv: { REDIS_URL: redisUrl, ...(clusterNodes && { REDIS_CLUSTER_NODES: clusterNodes.join(',') }) },
  };
}

/**
 * Connects to the real Redis and the run's MongoDB with names no other test file uses. `ofRedis` replaces
 * the run's Redis (a test's own server).
 */
export async function openServices(
  name: string,
  ofRedis: ReturnType<typeof redisOfEnv> = redisOfEnv(),
): Promise<TestServices> {
  const mongoUri = process.env.MONGODB_URI;
  const { redisUrl, redisTarget, redisEnv } = ofRedis;
  if (!mongoUri)
    throw new Error('MONGODB_URI is not set: run the tests through jest so global-setup starts MongoDB');
  const suffix = randomBytes(4).toString('hex');
  const dbName = `t_${name.replace(/[^a-z0-9]/gi, '_').slice(0, 40)}_${suffix}`;
  const prefix = `t${suffix}`;
  const logger = testLogger(name);
  const mongo = await connectMongo({ uri: mongoUri, dbName, serverSelectionTimeoutMS: 3000, logger });
  const redis = createRedis(redisTarget, 'command', logger);
  await waitForRedis(redis, 5000).catch(() => {
    throw new Error(`Redis is not answering at ${redisUrl}; start it (see CONTRIBUTING.md)`);
  });
  return {
    mongo,
    mongoUri,
    dbName,
    redis,
    redisUrl,
    redisTarget,
    redisEnv,
    prefix,
    logger,
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
    },
  };
}

/** Every key under the prefix with its whole content as text, whatever its type. */
export async function dumpRedis(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const dump = new Map<string, string>();
  for (const key of await scanKeys(redis, `${prefix}:*`)) {
    const type = await redis.type(key);
    const content =
      type === 'string'
        ? await redis.get(key)
        : type === 'hash'
          ? await redis.hgetall(key)
          : type === 'list'
            ? await redis.lrange(key, 0, -1)
            : type === 'set'
              ? await redis.smembers(key)
              : type === 'zset'
                ? await redis.zrange(key, 0, -1)
                : type === 'stream'
                  ? await redis.xrange(key, '-', '+')
                  : null;
    dump.set(key, JSON.stringify(content));
  }
  return dump;
}

/** Whether a key is one of BullMQ's (a tenant lane's queue, or the webhook deliveries' queue). */
export const isBullKey = (key: string) => /:\{b\d+\}:gen\./.test(key) || key.includes(':{wh}:webhooks:');
