import { randomBytes } from 'node:crypto';
import {
  type Connection,
  type Logger,
  type Redis,
  connectMongo,
  createLogger,
  createRedis,
  waitForRedis,
} from '@castforge/core';

export interface TestServices {
  /** A MongoDB database of this test file's own. */
  mongo: Connection;
  mongoUri: string;
  dbName: string;
  /** Redis, with a key prefix of this test file's own; every key under it is deleted on close. */
  redis: Redis;
  redisUrl: string;
  prefix: string;
  logger: Logger;
  close(): Promise<void>;
}

export const testLogger = (name: string): Logger =>
  createLogger({ name, level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** Connects to the real Redis and the run's MongoDB with names no other test file uses. */
export async function openServices(name: string): Promise<TestServices> {
  const mongoUri = process.env.MONGODB_URI;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!mongoUri)
    throw new Error('MONGODB_URI is not set: run the tests through jest so global-setup starts MongoDB');
  const suffix = randomBytes(4).toString('hex');
  const dbName = `t_${name.replace(/[^a-z0-9]/gi, '_').slice(0, 40)}_${suffix}`;
  const prefix = `t${suffix}`;
  const logger = testLogger(name);
  const mongo = await connectMongo({ uri: mongoUri, dbName, serverSelectionTimeoutMS: 3000, logger });
  const redis = createRedis(redisUrl, 'command', logger);
  await waitForRedis(redis, 5000).catch(() => {
    throw new Error(`Redis is not answering at ${redisUrl}; start it (see CONTRIBUTING.md)`);
  });
  return {
    mongo,
    mongoUri,
    dbName,
    redis,
    redisUrl,
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
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
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
  } while (cursor !== '0');
  return dump;
}

/** Whether a key is one of BullMQ's (a tenant lane's queue, or the webhook deliveries' queue). */
export const isBullKey = (key: string) => /:\{b\d+\}:gen\./.test(key) || key.includes(':{wh}:webhooks:');
